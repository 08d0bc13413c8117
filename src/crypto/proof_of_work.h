// The proof-of-work gate: the client finds a decimal ASCII nonce such that SHA-256(challenge || nonce) starts
// with `bits` zero bits. Costs the client about 2^bits hashes and the server one. Needs no third party.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// Leading zero bits of SHA-256(challenge || nonce).
int proof_of_work_zero_bits(std::string_view challenge, std::string_view nonce);

// True when nonce is 1..20 decimal digits and meets `bits`.
bool proof_of_work_valid(std::string_view challenge, std::string_view nonce, int bits);

// True when nonce is 1..20 ASCII digits (the only accepted form).
bool is_decimal_nonce(std::string_view nonce);

// Searches nonces 0, 1, 2, ... up to max_attempts; for clients, tests and the load generator.
std::optional<std::string> solve_proof_of_work(std::string_view challenge, int bits,
                                               std::uint64_t max_attempts = 1ULL << 32);

}  // namespace latchkey
