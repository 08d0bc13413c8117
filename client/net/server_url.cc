#include "client/net/server_url.h"

#include <cctype>

namespace latchkey::client {

Result<ServerUrl> parse_server_url(std::string_view text) {
  ServerUrl url;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    url.tls = true;
    rest = text.substr(8);
  } else {
    return make_error(ErrorKind::kUsage, "the server URL must start with http:// or https://");
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/@?#") != std::string_view::npos) {
    return make_error(ErrorKind::kUsage, "the server URL must be scheme://host[:port] without a path");
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {  // [::1]:8080
    auto close = rest.find(']');
    if (close == std::string_view::npos) return make_error(ErrorKind::kUsage, "bad IPv6 address in server URL");
    host = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error(ErrorKind::kUsage, "bad server URL");
      port = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return make_error(ErrorKind::kUsage, "the server URL has no host");
  if (!port.empty()) {
    if (port.size() > 5) return make_error(ErrorKind::kUsage, "bad port in server URL");
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return make_error(ErrorKind::kUsage, "bad port in server URL");
    }
  }
  url.host = std::string(host);
  url.port = port.empty() ? (url.tls ? "443" : "80") : std::string(port);
  std::string shown_host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  url.text = std::string(url.tls ? "https://" : "http://") + shown_host + ":" + url.port;
  return url;
}

}  // namespace latchkey::client
