// Plain HTTP request and response values that handlers see. No Beast here: the server (server.cc) converts
// between these and the wire, so handlers and their tests stay free of networking code.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace latchkey {

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string path;     // without the query string
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lowercase
  std::string body;
  std::string client_ip;
  std::vector<std::string> path_params;  // values of {placeholders}, in order, filled by the router

  // The first header with this lowercase name, or nullptr.
  const std::string* header(std::string_view lowercase_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, const nlohmann::json& value);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static HttpResponse no_content();
  // The one mapping from domain errors to HTTP: status, {"error", "message"} body, Retry-After,
  // WWW-Authenticate. Defined in error_mapping.cc.
  static HttpResponse error(const Error& error);
};

}  // namespace latchkey
