// Pending takeovers: an SMS-verified registration of an active account without Registration Lock waits
// accounts.takeover_delay, during which the owner's devices can deny (or approve) it. Rules in
// lock/takeover_guard.h.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct TakeoverAttempt {
  std::string id;            // random, base64url
  std::string account_uuid;  // the account that would be taken over
  std::string session_id;    // the verified session the new device registers with
  EpochMillis created_at = 0;
  EpochMillis not_before = 0;  // the registration may complete from this time on
  std::string state;           // "pending", "approved", "denied" or "completed"
};

// Thread-safe; calls may block on storage I/O. Errors other than those listed are kInternal/kUnavailable.
class TakeoverStore {
 public:
  virtual ~TakeoverStore() = default;
  virtual Status create(const TakeoverAttempt& attempt) = 0;
  virtual Result<std::optional<TakeoverAttempt>> find(const std::string& id) = 0;
  // The attempt made for this account with this session, if any.
  virtual Result<std::optional<TakeoverAttempt>> find_by_session(const std::string& account_uuid,
                                                                 const std::string& session_id) = 0;
  // Moves the attempt from `from` to `to`. kNotFound: no such attempt; kConflict: it is not in state `from`.
  virtual Status transition(const std::string& id, const std::string& from, const std::string& to) = 0;
};

}  // namespace latchkey
