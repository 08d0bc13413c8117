// Reading request bodies and credentials. Every failure is a kMalformedRequest or kUnauthorized naming the
// offending field, so clients learn exactly what was wrong.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "net/http_types.h"

namespace latchkey {

// The body as a JSON object. kMalformedRequest if it is not valid JSON or not an object.
Result<nlohmann::json> parse_json_object(std::string_view body);

// A required string member; kMalformedRequest if missing, not a string, or longer than max_bytes.
Result<std::string> required_string(const nlohmann::json& object, const std::string& path, const char* key,
                                    std::size_t max_bytes);
// An optional string member: nullopt if absent or null; kMalformedRequest if present with another type.
Result<std::optional<std::string>> optional_string(const nlohmann::json& object, const std::string& path,
                                                   const char* key, std::size_t max_bytes);
// A required integer member (JSON integer, not a float or string).
Result<std::int64_t> required_integer(const nlohmann::json& object, const std::string& path, const char* key);

// Base64 (standard or URL-safe) text decoded to bytes; kMalformedRequest naming `what` if it is not a string,
// not base64, or its text is longer than max_bytes could encode to (callers check the decoded size exactly).
// Variable-time decoding (core/encoding.h): for public values and ciphertext, never for a secret.
Result<std::string> decode_base64(const nlohmann::json& value, const std::string& what, std::size_t max_bytes);
// The same for text already known to be a string.
Result<std::string> decode_base64_text(std::string_view text, const std::string& what, std::size_t max_bytes);

// The object's array member `key`; kMalformedRequest when missing or not an array.
Result<const nlohmann::json*> required_array(const nlohmann::json& object, const char* key);

// The url-decoded value of `key` in a query string ("a=1&q=%2B33"), or empty when absent.
std::string query_parameter(std::string_view query, std::string_view key);

struct BasicCredentials {
  std::string username;
  std::string password;
};

// Parses "Authorization: Basic base64(username:password)". kUnauthorized when missing or malformed.
Result<BasicCredentials> basic_credentials(const HttpRequest& request);

}  // namespace latchkey
