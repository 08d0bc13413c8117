// Byte-string encodings used on the wire: base64 (standard and URL-safe) and hex.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

std::string base64_encode(std::string_view bytes);      // standard alphabet, padded
std::string base64url_encode(std::string_view bytes);   // URL-safe alphabet, no padding
// Decoders answer nullopt on any invalid character, bad padding or trailing garbage.
std::optional<std::string> base64_decode(std::string_view text);     // standard, padding required
std::optional<std::string> base64url_decode(std::string_view text);  // URL-safe, padding optional
std::string hex_encode(std::string_view bytes);                      // lowercase
std::optional<std::string> hex_decode(std::string_view text);        // either case, even length
// A query-string value: %XX decoded, '+' as a space; a malformed escape is kept as written.
std::string url_decode(std::string_view text);

}  // namespace latchkey
