#include "client/provisioning/device_name.h"

#include <sodium.h>

#include "core/encoding.h"

namespace latchkey::client {
namespace {

std::string name_key(std::string_view identity_private) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  static const char kContext[] = "latchkey device name v1";
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(kContext), sizeof(kContext) - 1,
                     reinterpret_cast<const unsigned char*>(identity_private.data()), identity_private.size());
  return key;
}

}  // namespace

std::string encrypt_device_name(std::string_view identity_private, std::string_view name) {
  std::string key = name_key(identity_private);
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + name.size(), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(p + crypto_secretbox_NONCEBYTES, reinterpret_cast<const unsigned char*>(name.data()),
                        name.size(), p, reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  return base64_encode(out);
}

std::optional<std::string> decrypt_device_name(std::string_view identity_private, std::string_view encrypted) {
  auto raw = base64_decode(encrypted);
  if (!raw || raw->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) return std::nullopt;
  std::string key = name_key(identity_private);
  std::string name(raw->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(raw->data());
  int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(name.data()), p + crypto_secretbox_NONCEBYTES,
                                      raw->size() - crypto_secretbox_NONCEBYTES, p,
                                      reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  if (rc != 0) return std::nullopt;
  return name;
}

}  // namespace latchkey::client
