// For tests: real Curve25519 identity keys and XEdDSA signatures made with libsignal-protocol-c, as a client
// signs its signed prekey. The library needs a signal_context whose crypto provider can at least produce
// randomness (libsodium here); nothing else of the provider is used for key generation and signing, so the
// other functions refuse.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

extern "C" {
#include <curve.h>
#include <signal_protocol.h>
}

namespace latchkey::testing_util {

// A signal_context with the libsodium random function. Not thread-safe; one per test is enough.
class SignalTestContext {
 public:
  SignalTestContext() {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    if (signal_context_create(&context_, nullptr) != 0) throw std::runtime_error("signal_context_create failed");
    signal_crypto_provider provider{};
    provider.random_func = &random;
    provider.hmac_sha256_init_func = [](void**, const std::uint8_t*, std::size_t, void*) { return SG_ERR_UNKNOWN; };
    provider.hmac_sha256_update_func = [](void*, const std::uint8_t*, std::size_t, void*) { return SG_ERR_UNKNOWN; };
    provider.hmac_sha256_final_func = [](void*, signal_buffer**, void*) { return SG_ERR_UNKNOWN; };
    provider.hmac_sha256_cleanup_func = [](void*, void*) {};
    provider.sha512_digest_init_func = [](void**, void*) { return SG_ERR_UNKNOWN; };
    provider.sha512_digest_update_func = [](void*, const std::uint8_t*, std::size_t, void*) { return SG_ERR_UNKNOWN; };
    provider.sha512_digest_final_func = [](void*, signal_buffer**, void*) { return SG_ERR_UNKNOWN; };
    provider.sha512_digest_cleanup_func = [](void*, void*) {};
    provider.encrypt_func = [](signal_buffer**, int, const std::uint8_t*, std::size_t, const std::uint8_t*, std::size_t,
                               const std::uint8_t*, std::size_t, void*) { return SG_ERR_UNKNOWN; };
    provider.decrypt_func = [](signal_buffer**, int, const std::uint8_t*, std::size_t, const std::uint8_t*, std::size_t,
                               const std::uint8_t*, std::size_t, void*) { return SG_ERR_UNKNOWN; };
    if (signal_context_set_crypto_provider(context_, &provider) != 0) {
      signal_context_destroy(context_);
      throw std::runtime_error("signal_context_set_crypto_provider failed");
    }
  }
  ~SignalTestContext() { signal_context_destroy(context_); }
  SignalTestContext(const SignalTestContext&) = delete;
  SignalTestContext& operator=(const SignalTestContext&) = delete;

  signal_context* get() const { return context_; }

 private:
  static int random(std::uint8_t* data, std::size_t len, void*) {
    randombytes_buf(data, len);
    return SG_SUCCESS;
  }
  signal_context* context_ = nullptr;
};

inline std::string take_buffer(signal_buffer* buffer) {
  std::string bytes(reinterpret_cast<const char*>(signal_buffer_data(buffer)), signal_buffer_len(buffer));
  signal_buffer_free(buffer);
  return bytes;
}

// A freshly generated identity key pair.
class TestIdentityKey {
 public:
  explicit TestIdentityKey(SignalTestContext& context) : context_(context) {
    if (curve_generate_key_pair(context_.get(), &pair_) != 0) throw std::runtime_error("curve_generate_key_pair failed");
  }
  ~TestIdentityKey() { SIGNAL_UNREF(pair_); }
  TestIdentityKey(const TestIdentityKey&) = delete;
  TestIdentityKey& operator=(const TestIdentityKey&) = delete;

  // 33 bytes: 0x05 and the Curve25519 public key, as clients upload it.
  std::string public_key() const {
    signal_buffer* buffer = nullptr;
    if (ec_public_key_serialize(&buffer, ec_key_pair_get_public(pair_)) != 0)
      throw std::runtime_error("ec_public_key_serialize failed");
    return take_buffer(buffer);
  }

  // A 64-byte XEdDSA signature of `message`.
  std::string sign(std::string_view message) const {
    signal_buffer* buffer = nullptr;
    if (curve_calculate_signature(context_.get(), &buffer, ec_key_pair_get_private(pair_),
                                  reinterpret_cast<const std::uint8_t*>(message.data()), message.size()) != 0)
      throw std::runtime_error("curve_calculate_signature failed");
    return take_buffer(buffer);
  }

 private:
  SignalTestContext& context_;
  ec_key_pair* pair_ = nullptr;
};

}  // namespace latchkey::testing_util
