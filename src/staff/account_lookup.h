// What support staff see of an account: masked by default, unmasked only with a stated reason. Every lookup
// (found or not) and every unmask is audited before anything is shown; lookups are rate-limited per staff
// member (staff.lookups_per_staff).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "limits/rate_limiter.h"
#include "metrics/metrics.h"
#include "staff/staff_authorizer.h"
#include "storage/account_store.h"

namespace latchkey {

// Thread-safe; blocks on storage.
class AccountLookup {
 public:
  AccountLookup(const StaffConfig& config, AccountStore& accounts, AuditLog& audit, const Clock& clock,
                MetricsRegistry& metrics);

  // `query` is a number in international form or an account uuid; `case_ref` the support case it is for (may be
  // empty, which alert rules notice). Answers {uuid, number (masked), createdAt, registrationLock, devices:[...]}.
  // Errors: kMalformedRequest (query is neither), kRateLimited, kNotFound (audited too).
  Result<nlohmann::json> lookup(const StaffPrincipal& staff, const std::string& query, const std::string& case_ref);

  // The account's full number. `reason` (3..500 characters) is audited with it.
  // Errors: kMalformedRequest (reason), kRateLimited, kNotFound.
  Result<nlohmann::json> unmask(const StaffPrincipal& staff, const std::string& uuid, const std::string& reason);

 private:
  Status take_token(const StaffPrincipal& staff);

  const StaffConfig& config_;
  AccountStore& accounts_;
  AuditLog& audit_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  TokenBucketLimiter limiter_;
};

}  // namespace latchkey
