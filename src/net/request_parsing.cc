#include "net/request_parsing.h"

#include "core/encoding.h"

namespace latchkey {
namespace {

std::string field(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

}  // namespace

Result<nlohmann::json> parse_json_object(std::string_view body) {
  auto value = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return make_error(ErrorCode::kMalformedRequest, "the request body is not valid JSON");
  if (!value.is_object()) return make_error(ErrorCode::kMalformedRequest, "the request body must be a JSON object");
  return value;
}

Result<std::string> required_string(const nlohmann::json& object, const std::string& path, const char* key,
                                    std::size_t max_bytes) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return make_error(ErrorCode::kMalformedRequest, field(path, key) + " is required");
  if (!it->is_string()) return make_error(ErrorCode::kMalformedRequest, field(path, key) + " must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    return make_error(ErrorCode::kMalformedRequest,
                      field(path, key) + " must be at most " + std::to_string(max_bytes) + " bytes");
  return s;
}

Result<std::optional<std::string>> optional_string(const nlohmann::json& object, const std::string& path,
                                                   const char* key, std::size_t max_bytes) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  auto s = required_string(object, path, key, max_bytes);
  if (!s.ok()) return s.take_error();
  return std::optional<std::string>(std::move(s.value()));
}

Result<std::int64_t> required_integer(const nlohmann::json& object, const std::string& path, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return make_error(ErrorCode::kMalformedRequest, field(path, key) + " is required");
  if (!it->is_number_integer()) return make_error(ErrorCode::kMalformedRequest, field(path, key) + " must be an integer");
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    return make_error(ErrorCode::kMalformedRequest, field(path, key) + " is out of range");
  return it->get<std::int64_t>();
}

Result<BasicCredentials> basic_credentials(const HttpRequest& request) {
  const std::string* header = request.header("authorization");
  auto fail = [] { return make_error(ErrorCode::kUnauthorized, "HTTP Basic credentials are required"); };
  if (!header || header->size() < 6 || header->size() > 4096) return fail();
  std::string_view value(*header);
  if (value.substr(0, 6) != "Basic " && value.substr(0, 6) != "basic ") return fail();
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto decoded = base64_decode(value);
  if (!decoded) return fail();
  auto colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return fail();
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

// Longest base64 text (with padding) of `bytes` bytes.
static std::size_t base64_length(std::size_t bytes) { return (bytes + 2) / 3 * 4; }

Result<std::string> decode_base64_text(std::string_view text, const std::string& what, std::size_t max_bytes) {
  if (text.size() > base64_length(max_bytes) + 2) return make_error(ErrorCode::kMalformedRequest, what + " is too long");
  auto bytes = base64_decode_public_any(text);
  if (!bytes) return make_error(ErrorCode::kMalformedRequest, what + " must be base64");
  return std::move(*bytes);
}

Result<std::string> decode_base64(const nlohmann::json& value, const std::string& what, std::size_t max_bytes) {
  if (!value.is_string()) return make_error(ErrorCode::kMalformedRequest, what + " must be a base64 string");
  return decode_base64_text(value.get_ref<const std::string&>(), what, max_bytes);
}

Result<const nlohmann::json*> required_array(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_array())
    return make_error(ErrorCode::kMalformedRequest, std::string(key) + " must be an array");
  return &*it;
}

std::string query_parameter(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t end = query.find('&');
    const std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view{} : query.substr(end + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return {};
}

}  // namespace latchkey
