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
// Table-driven versions of the above for public data only (envelope ciphertext, public keys): several times
// faster, but their timing depends on the bytes, so never use them for secrets (the libsodium-backed ones above
// run in constant time). Same alphabets and the same strictness: any invalid character, misplaced or missing
// padding, or non-zero unused bits is refused. base64_decode_public_any accepts either alphabet: standard
// (padding required) or URL-safe (padding optional), as clients send both.
std::string base64_encode_public(std::string_view bytes);
void base64_append_public(std::string& out, std::string_view bytes);  // appends what base64_encode_public answers
std::optional<std::string> base64_decode_public_any(std::string_view text);
std::string hex_encode(std::string_view bytes);                      // lowercase
std::optional<std::string> hex_decode(std::string_view text);        // either case, even length
// A query-string value: %XX decoded, '+' as a space; a malformed escape is kept as written.
std::string url_decode(std::string_view text);

}  // namespace latchkey
