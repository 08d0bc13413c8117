// Fuzzes what a client controls before any domain rule runs: JSON bodies, Basic credentials, base64, the
// proof-of-work nonce and the router. Round trips must hold and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/encoding.h"
#include "crypto/proof_of_work.h"
#include "net/request_parsing.h"
#include "net/router.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);

  if (auto body = latchkey::parse_json_object(input); body.ok()) {
    (void)latchkey::required_string(*body, "", "number", 64);
    (void)latchkey::optional_string(*body, "", "locale", 35);
    (void)latchkey::required_integer(*body, "", "registrationId");
    if (auto pow = body->find("proofOfWork"); pow != body->end() && pow->is_object())
      (void)latchkey::required_string(*pow, "proofOfWork", "nonce", 64);
  }

  latchkey::HttpRequest request;
  request.headers.emplace_back("authorization", input);
  (void)latchkey::basic_credentials(request);

  if (auto decoded = latchkey::base64_decode(input)) {
    // Non-canonical padding bits may decode; re-encoding must still decode to the same bytes.
    if (latchkey::base64_decode(latchkey::base64_encode(*decoded)) != decoded) __builtin_trap();
  }
  if (auto decoded = latchkey::base64url_decode(input)) {
    (void)latchkey::base64url_encode(*decoded);
  }
  if (auto decoded = latchkey::hex_decode(input)) {
    if (latchkey::hex_decode(latchkey::hex_encode(*decoded)) != decoded) __builtin_trap();
  }
  (void)latchkey::proof_of_work_valid("challenge", input, 4);

  static latchkey::Router* router = [] {
    auto* r = new latchkey::Router;
    auto ok = [](latchkey::HttpRequest&) { return latchkey::HttpResponse::json(200, nullptr); };
    r->add("GET", "/v1/verification/session/{id}", latchkey::HandlerPool::kInline, ok);
    r->add("PUT", "/v1/verification/session/{id}/code", latchkey::HandlerPool::kInline, ok);
    r->add("POST", "/v1/registration", latchkey::HandlerPool::kInline, ok);
    return r;
  }();
  (void)router->match("GET", input);
  return 0;
}
