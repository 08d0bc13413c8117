// Notices for an account's devices: things the owner must learn about, such as a failed attempt to
// register their number past Registration Lock. Devices fetch them (GET /v1/accounts/notices); the device
// WebSocket will push them once it exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct Notice {
  std::int64_t id = 0;          // increasing per store; use as a cursor
  std::string account_uuid;
  std::string kind;             // e.g. "registration_lock_failure"
  std::string details_json;     // a JSON object with the kind's fields; never secrets
  EpochMillis created_at = 0;
};

// Thread-safe. Calls may block on storage I/O. Errors are kInternal or kUnavailable.
class NoticeStore {
 public:
  virtual ~NoticeStore() = default;
  // Stores a notice and answers its id. Durable when ok.
  virtual Result<std::int64_t> add(const std::string& account_uuid, const std::string& kind,
                                   const std::string& details_json, EpochMillis now) = 0;
  // The account's notices with id > after_id, oldest first, at most `limit`.
  virtual Result<std::vector<Notice>> list(const std::string& account_uuid, std::int64_t after_id, int limit) = 0;
  // Deletes notices created before `before`; answers how many.
  virtual Result<int> delete_older_than(EpochMillis before, int limit) = 0;
};

}  // namespace latchkey
