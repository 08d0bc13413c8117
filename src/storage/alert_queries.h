// Aggregate reads the anomaly alert rules evaluate (alerts/alert_engine.h). Each answers counts over
// [since, now); none returns phone numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct StaffLookupCount {
  std::string actor;               // audit actor, "staff:<id>"
  std::int64_t lookups = 0;        // account.lookup entries
  std::int64_t without_case = 0;   // ... whose support case reference was empty
};

struct KeyedCount {
  std::string key;                 // a calling code or a provider name
  std::int64_t count = 0;
};

// Thread-safe; blocks on storage.
class AlertQueries {
 public:
  virtual ~AlertQueries() = default;
  // From the audit log.
  virtual Result<std::vector<StaffLookupCount>> staff_lookups(EpochMillis since) = 0;
  // From the registration log: re-registrations of accounts created before (registration time - established_ms).
  virtual Result<std::int64_t> established_reregistrations(EpochMillis since, std::int64_t established_ms) = 0;
  // From verification sessions still stored (they are purged after verification.session_ttl): sessions created
  // since `since` that were sent a code and never verified, per calling code.
  virtual Result<std::vector<KeyedCount>> unverified_codes_by_prefix(EpochMillis since) = 0;
  // From the registration log: completed registrations per provider that delivered the code ("" for none).
  virtual Result<std::vector<KeyedCount>> registrations_by_provider(EpochMillis since) = 0;
};

}  // namespace latchkey
