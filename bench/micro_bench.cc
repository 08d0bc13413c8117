// Micro-benchmarks of the server's per-request primitives, calling the library's own functions: the
// proof-of-work check (server side) and solve (client side), the code hash, device password hashing,
// phone-number parsing and a rate-limit decision. Run with `make bench` or build/bench/latchkey_micro_bench.
#include <benchmark/benchmark.h>

#include <string>

#include "core/clock.h"
#include "core/phone_number.h"
#include "crypto/proof_of_work.h"
#include "crypto/random.h"
#include "crypto/secret_hash.h"
#include "limits/rate_limiter.h"

namespace latchkey {
namespace {

SodiumRandom& random_source() {
  static bool ready = initialize_crypto();
  static SodiumRandom random;
  (void)ready;
  return random;
}

void BM_ProofOfWorkCheck(benchmark::State& state) {
  std::string challenge = random_bytes(random_source(), 16);
  auto nonce = solve_proof_of_work(challenge, 8);
  for (auto _ : state) benchmark::DoNotOptimize(proof_of_work_valid(challenge, *nonce, 8));
}
BENCHMARK(BM_ProofOfWorkCheck);

// What a client pays: about 2^bits hashes on average.
void BM_ProofOfWorkSolve(benchmark::State& state) {
  int bits = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::string challenge = random_bytes(random_source(), 16);
    state.ResumeTiming();
    benchmark::DoNotOptimize(solve_proof_of_work(challenge, bits));
  }
}
BENCHMARK(BM_ProofOfWorkSolve)->Arg(4)->Arg(16)->Unit(benchmark::kMicrosecond);

void BM_CodeHash(benchmark::State& state) {
  std::string key = random_bytes(random_source(), 32);
  for (auto _ : state) benchmark::DoNotOptimize(keyed_hash(key, "3wbu45W2u4ZSNukfTRoUJQ", "547430"));
}
BENCHMARK(BM_CodeHash);

void BM_PasswordHash(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(hash_password(random_source(), "a-long-device-password"));
}
BENCHMARK(BM_PasswordHash);

void BM_PasswordVerify(benchmark::State& state) {
  std::string record = hash_password(random_source(), "a-long-device-password");
  for (auto _ : state) benchmark::DoNotOptimize(verify_password(record, "a-long-device-password"));
}
BENCHMARK(BM_PasswordVerify);

void BM_ParsePhoneNumber(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_phone_number("+33 6 12 34 56 78"));
}
BENCHMARK(BM_ParsePhoneNumber);

void BM_TokenBucket(benchmark::State& state) {
  TokenBucketLimiter limiter({1'000'000, std::chrono::milliseconds(1)}, 1'000'000);
  EpochMillis now = 0;
  for (auto _ : state) benchmark::DoNotOptimize(limiter.try_acquire("10.0.0.1", ++now));
}
BENCHMARK(BM_TokenBucket)->Threads(1)->Threads(2);

}  // namespace
}  // namespace latchkey

BENCHMARK_MAIN();
