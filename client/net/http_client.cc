#include "client/net/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "core/encoding.h"

namespace latchkey::client {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t write_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    (*headers)[name] = std::string(value);
  }
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string HttpResponse::error_code() const {
  if (json.is_object() && json.contains("error") && json["error"].is_string()) return json["error"].get<std::string>();
  return "";
}

HttpClient::HttpClient(ServerUrl server, std::chrono::seconds timeout) : server_(std::move(server)), timeout_(timeout) {
  global_init_once();
}

Result<HttpResponse> HttpClient::request(std::string_view method, std::string_view path, const nlohmann::json& body,
                                         const std::optional<Credentials>& credentials) const {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return make_error(ErrorKind::kNetwork, "cannot initialise libcurl");
  std::string url = server_.http_url(path);
  std::string method_text(method);
  std::string payload = body.is_null() ? std::string() : body.dump();
  HttpResponse response;

  curl_slist* raw_headers = nullptr;
  raw_headers = curl_slist_append(raw_headers, "Accept: application/json");
  if (!body.is_null()) raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  std::string authorization;
  if (credentials) {
    authorization = "Authorization: " + basic_authorization(*credentials);
    raw_headers = curl_slist_append(raw_headers, authorization.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method_text == "GET") curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (!body.is_null()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count() * 1000));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "latchkey-client/0.1");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");

  CURLcode rc = curl_easy_perform(c);
  // The header buffer held the password; curl copied it, wipe ours.
  std::fill(authorization.begin(), authorization.end(), '\0');
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return make_error(ErrorKind::kTimeout, "the server did not answer " + method_text + " " + std::string(path) +
                                               " in time");
  }
  if (rc != CURLE_OK) {
    return make_error(ErrorKind::kNetwork,
                      "cannot reach the server at " + server_.text + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  if (!response.body.empty()) {
    response.json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (response.json.is_discarded()) response.json = nullptr;
  }
  return response;
}

Error unexpected_answer(const HttpResponse& response, std::string_view what, bool device_credentials) {
  Error e;
  e.http_status = response.status;
  e.code = response.error_code();
  e.body = response.json;
  std::string server_message;
  if (response.json.is_object() && response.json.contains("message") && response.json["message"].is_string()) {
    server_message = response.json["message"].get<std::string>();
  }
  if (response.status == 401 && device_credentials) {
    e.kind = ErrorKind::kUnregistered;
    e.message = std::string(what) + ": the server no longer accepts this device's credentials";
    return e;
  }
  e.kind = ErrorKind::kServer;
  e.message = std::string(what) + ": the server answered " + std::to_string(response.status);
  if (!e.code.empty()) e.message += " " + e.code;
  if (!server_message.empty()) e.message += " (" + server_message + ")";
  if (response.status == 429) {
    auto it = response.headers.find("retry-after");
    if (it != response.headers.end()) e.message += "; retry in " + it->second + " s";
  }
  return e;
}

std::string basic_authorization(const Credentials& credentials) {
  return "Basic " + base64_encode(credentials.username + ":" + credentials.password);
}

std::string escape_path_segment(std::string_view segment) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace latchkey::client
