// Durable verification sessions. The entity is plain data; the rules live in verification/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct VerificationSession {
  std::string id;             // 16 random bytes, base64url without padding
  std::string number;         // E.164
  std::string country_code;   // calling code of number, e.g. "33"
  EpochMillis created_at = 0;
  EpochMillis expires_at = 0;
  std::int64_t version = 0;   // incremented by every successful update (optimistic concurrency)

  std::string pow_challenge;  // raw challenge bytes; empty when no gate was asked
  int pow_bits = 0;
  bool pow_passed = false;

  std::string code_hash;      // keyed hash of the pending code (crypto/secret_hash.h); empty when none
  EpochMillis code_expires_at = 0;
  int code_attempts = 0;      // wrong guesses against the pending code
  int sms_sent = 0;
  int calls_made = 0;
  EpochMillis next_sms_at = 0;   // earliest time for the next SMS; 0 when never sent
  EpochMillis next_call_at = 0;  // earliest time for the next call
  std::string last_provider;     // provider that delivered the last code

  EpochMillis verified_at = 0;   // 0 while unverified
  EpochMillis consumed_at = 0;   // set when a registration used the session; 0 while unused
};

// Thread-safe. Every call may block on storage I/O: call from a worker thread, never an I/O thread.
// Errors other than those listed are kInternal or kUnavailable (storage failure).
class VerificationSessionStore {
 public:
  virtual ~VerificationSessionStore() = default;

  // Stores a new session (its version is stored as given, normally 0). Durable when it returns ok.
  virtual Status insert(const VerificationSession& session) = 0;

  // The session with this id, or nullopt if none (expiry is the caller's business).
  virtual Result<std::optional<VerificationSession>> find(const std::string& id) = 0;

  // Replaces the session's fields if its stored version equals session.version, storing version + 1.
  // kConflict: the stored version differs (a concurrent update won; reload and retry).
  // kSessionNotFound: no session with this id.
  virtual Status update(const VerificationSession& session) = 0;

  // Deletes up to `limit` sessions whose expires_at is before `now`; answers how many were deleted.
  virtual Result<int> delete_expired(EpochMillis now, int limit) = 0;

  // Ends every unexpired session not yet used to register whose last code went through `provider` (its
  // pending code is dropped and it expires at `now`, so neither a code nor a verified state from that provider
  // can be used any more). Answers how many sessions were ended.
  virtual Result<int> invalidate_by_provider(const std::string& provider, EpochMillis now) = 0;
};

}  // namespace latchkey
