#include "client/signal/crypto_provider.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <vector>

namespace latchkey::client {
namespace {

int random_bytes(uint8_t* data, size_t len, void*) {
  randombytes_buf(data, len);
  return 0;
}

// ---- HMAC-SHA256 ----

int hmac_init(void** context, const uint8_t* key, size_t key_len, void*) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) return SG_ERR_UNKNOWN;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  if (!ctx) return SG_ERR_NOMEM;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return SG_ERR_UNKNOWN;
  }
  *context = ctx;
  return 0;
}

int hmac_update(void* context, const uint8_t* data, size_t len, void*) {
  return EVP_MAC_update(static_cast<EVP_MAC_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

int hmac_final(void* context, signal_buffer** output, void*) {
  uint8_t out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(context), out, &len, sizeof(out)) != 1) return SG_ERR_UNKNOWN;
  *output = signal_buffer_create(out, len);
  return *output ? 0 : SG_ERR_NOMEM;
}

void hmac_cleanup(void* context, void*) { EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(context)); }

// ---- SHA-512 ----

int sha512_init(void** context, void*) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return SG_ERR_NOMEM;
  if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return SG_ERR_UNKNOWN;
  }
  *context = ctx;
  return 0;
}

int sha512_update(void* context, const uint8_t* data, size_t len, void*) {
  return EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

// Finalises and re-initialises the context, as the library expects to reuse it.
int sha512_final(void* context, signal_buffer** output, void*) {
  auto* ctx = static_cast<EVP_MD_CTX*>(context);
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out, &len) != 1) return SG_ERR_UNKNOWN;
  if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) return SG_ERR_UNKNOWN;
  *output = signal_buffer_create(out, len);
  return *output ? 0 : SG_ERR_NOMEM;
}

void sha512_cleanup(void* context, void*) { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context)); }

// ---- AES ----

const EVP_CIPHER* aes_cipher(int cipher, size_t key_len) {
  if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
    switch (key_len) {
      case 16: return EVP_aes_128_cbc();
      case 24: return EVP_aes_192_cbc();
      case 32: return EVP_aes_256_cbc();
    }
  } else if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
    switch (key_len) {
      case 16: return EVP_aes_128_ctr();
      case 24: return EVP_aes_192_ctr();
      case 32: return EVP_aes_256_ctr();
    }
  }
  return nullptr;
}

int aes(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv,
        size_t iv_len, const uint8_t* input, size_t input_len) {
  const EVP_CIPHER* evp = aes_cipher(cipher, key_len);
  if (!evp || iv_len != 16) return SG_ERR_INVAL;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return SG_ERR_NOMEM;
  std::vector<uint8_t> out(input_len + 16);
  int len1 = 0, len2 = 0;
  int rc = SG_ERR_UNKNOWN;
  if (EVP_CipherInit_ex(ctx, evp, nullptr, key, iv, encrypt ? 1 : 0) == 1 &&
      EVP_CIPHER_CTX_set_padding(ctx, cipher == SG_CIPHER_AES_CBC_PKCS5 ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx, out.data(), &len1, input, static_cast<int>(input_len)) == 1 &&
      EVP_CipherFinal_ex(ctx, out.data() + len1, &len2) == 1) {
    *output = signal_buffer_create(out.data(), static_cast<size_t>(len1 + len2));
    rc = *output ? 0 : SG_ERR_NOMEM;
  }
  EVP_CIPHER_CTX_free(ctx);
  sodium_memzero(out.data(), out.size());
  return rc;
}

int encrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
            const uint8_t* plaintext, size_t plaintext_len, void*) {
  return aes(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
}

int decrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
            const uint8_t* ciphertext, size_t ciphertext_len, void*) {
  return aes(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
}

}  // namespace

signal_crypto_provider openssl_crypto_provider() {
  signal_crypto_provider p{};
  p.random_func = random_bytes;
  p.hmac_sha256_init_func = hmac_init;
  p.hmac_sha256_update_func = hmac_update;
  p.hmac_sha256_final_func = hmac_final;
  p.hmac_sha256_cleanup_func = hmac_cleanup;
  p.sha512_digest_init_func = sha512_init;
  p.sha512_digest_update_func = sha512_update;
  p.sha512_digest_final_func = sha512_final;
  p.sha512_digest_cleanup_func = sha512_cleanup;
  p.encrypt_func = encrypt;
  p.decrypt_func = decrypt;
  p.user_data = nullptr;
  return p;
}

}  // namespace latchkey::client
