// latchkey_micro_bench: the per-request crypto costs of the verification flow, with plain OpenSSL / libsodium
// calls (the server's crypto API is not final; switch these to it once it is).
//   - proof-of-work verification: one SHA-256 over challenge || decimal nonce, then a leading-zero-bit count;
//     this is the whole server-side cost of the gate.
//   - proof-of-work solving: what the gate costs a client at a given difficulty (about 2^bits hashes).
//   - code hashing: HMAC-SHA256(key, session id || 0x00 || code), computed for every sent and checked code.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr std::size_t kChallengeBytes = 32;

int leading_zero_bits(const unsigned char* d, std::size_t n) {
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (d[i] == 0) {
      bits += 8;
      continue;
    }
    unsigned char b = d[i];
    while ((b & 0x80) == 0) {
      ++bits;
      b <<= 1;
    }
    break;
  }
  return bits;
}

bool pow_valid(const unsigned char* challenge, std::size_t challenge_len, const std::string& nonce,
               int bits) {
  unsigned char buf[kChallengeBytes + 20];
  std::memcpy(buf, challenge, challenge_len);
  std::memcpy(buf + challenge_len, nonce.data(), nonce.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(buf, challenge_len + nonce.size(), digest, &len, EVP_sha256(), nullptr) != 1) return false;
  return leading_zero_bits(digest, len) >= bits;
}

// Server side: verify one submitted nonce (typical 1..6 digit nonce).
void BM_PowVerify(benchmark::State& state) {
  unsigned char challenge[kChallengeBytes];
  RAND_bytes(challenge, sizeof challenge);
  std::uint64_t nonce = 123456;
  for (auto _ : state) {
    bool ok = pow_valid(challenge, sizeof challenge, std::to_string(nonce++ % 1000000), 16);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PowVerify);

// Client side: find a nonce for a fresh challenge at `bits` difficulty.
void BM_PowSolve(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  unsigned char challenge[kChallengeBytes];
  std::uint64_t hashes = 0;
  EVP_MD_CTX* base = EVP_MD_CTX_new();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (auto _ : state) {
    RAND_bytes(challenge, sizeof challenge);
    EVP_DigestInit_ex(base, EVP_sha256(), nullptr);
    EVP_DigestUpdate(base, challenge, sizeof challenge);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char buf[24];
    for (std::uint64_t nonce = 0;; ++nonce) {
      int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(nonce));
      EVP_MD_CTX_copy_ex(ctx, base);
      EVP_DigestUpdate(ctx, buf, static_cast<std::size_t>(n));
      EVP_DigestFinal_ex(ctx, digest, &len);
      ++hashes;
      if (leading_zero_bits(digest, len) >= bits) break;
    }
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_CTX_free(base);
  state.counters["hashes_per_solve"] =
      benchmark::Counter(static_cast<double>(hashes) / static_cast<double>(state.iterations()));
  state.counters["hashes_per_s"] =
      benchmark::Counter(static_cast<double>(hashes), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PowSolve)->Arg(4)->Arg(16)->Unit(benchmark::kMicrosecond);

struct CodeInput {
  unsigned char key[32];
  std::string message;
  CodeInput() {
    RAND_bytes(key, sizeof key);
    message = "Xq3v9bT0c7w1yJkPzR2mNa";  // context: a session id
    message += '\0';                     // separator, as in crypto/secret_hash.h keyed_hash()
    message += "123456";                 // the code
  }
};

// HMAC-SHA256 of session id || code, OpenSSL one-shot HMAC().
void BM_CodeHmac_OpenSSL(benchmark::State& state) {
  CodeInput in;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), in.key, sizeof in.key, reinterpret_cast<const unsigned char*>(in.message.data()),
         in.message.size(), mac, &len);
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CodeHmac_OpenSSL);

// The same with OpenSSL 3's EVP_MAC, keyed once and duplicated per message (avoids re-fetching the
// algorithm).
void BM_CodeHmac_EVP_MAC_Reused(benchmark::State& state) {
  CodeInput in;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* keyed = EVP_MAC_CTX_new(mac);
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(keyed, in.key, sizeof in.key, params) != 1) {
    state.SkipWithError("EVP_MAC_init failed");
    return;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  for (auto _ : state) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(in.message.data()), in.message.size());
    EVP_MAC_final(ctx, out, &len, sizeof out);
    EVP_MAC_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
  EVP_MAC_CTX_free(keyed);
  EVP_MAC_free(mac);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CodeHmac_EVP_MAC_Reused);

// The same with libsodium's crypto_auth_hmacsha256, plus the constant-time comparison done on a check.
void BM_CodeHmac_Sodium(benchmark::State& state) {
  if (sodium_init() < 0) {
    state.SkipWithError("sodium_init failed");
    return;
  }
  CodeInput in;
  unsigned char stored[crypto_auth_hmacsha256_BYTES] = {};
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  for (auto _ : state) {
    crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(in.message.data()), in.message.size(),
                           in.key);
    int same = sodium_memcmp(mac, stored, sizeof mac);
    benchmark::DoNotOptimize(same);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CodeHmac_Sodium);

}  // namespace

BENCHMARK_MAIN();
