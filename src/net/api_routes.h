// The public HTTP API (docs/api.md): verification sessions, registration, accounts, health and metrics.
// Handlers translate HTTP to domain calls and back; they hold no state of their own.
#pragma once

#include <functional>

#include "accounts/account_service.h"
#include "metrics/metrics.h"
#include "net/router.h"
#include "storage/storage.h"
#include "verification/verification_service.h"

namespace latchkey {

struct ApiServices {
  VerificationService& verification;
  AccountService& accounts;
  Storage& storage;
  MetricsRegistry& metrics;
};

void add_verification_routes(Router& router, VerificationService& verification);
void add_account_routes(Router& router, AccountService& accounts);
void add_operations_routes(Router& router, Storage& storage, MetricsRegistry& metrics);

inline void add_api_routes(Router& router, const ApiServices& s) {
  add_verification_routes(router, s.verification);
  add_account_routes(router, s.accounts);
  add_operations_routes(router, s.storage, s.metrics);
}

}  // namespace latchkey
