#include "keys/xeddsa.h"

#include <cstdint>

extern "C" {
#include <curve.h>
#include <signal_protocol.h>
}

namespace latchkey {

bool verify_xeddsa(std::string_view public_key, std::string_view message, std::string_view signature) {
  if (public_key.size() != 33 || signature.size() != 64) return false;
  // curve_decode_point uses its context only to log; none is needed.
  ec_public_key* key = nullptr;
  if (curve_decode_point(&key, reinterpret_cast<const std::uint8_t*>(public_key.data()), public_key.size(),
                         nullptr) != 0 ||
      key == nullptr)
    return false;
  int verdict = curve_verify_signature(key, reinterpret_cast<const std::uint8_t*>(message.data()), message.size(),
                                       reinterpret_cast<const std::uint8_t*>(signature.data()), signature.size());
  SIGNAL_UNREF(key);
  return verdict == 1;
}

}  // namespace latchkey
