// Staff roles and what each may do. Least privilege: a role grants only the permissions listed for it here, and
// every staff endpoint names the one permission it needs (net/staff_routes.cc and friends).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

enum class StaffRole {
  kViewer,     // sees alerts, providers and incidents; no phone numbers
  kSupport,    // + looks up accounts (masked) and unmasks a number with a stated reason
  kResponder,  // + marks providers compromised, creates, approves and executes incidents
  kAdmin,      // + invites and disables staff, reads the audit log
};

enum class Permission {
  kViewAlerts,
  kViewProviders,
  kViewIncidents,
  kLookupAccounts,
  kUnmaskNumbers,
  kManageProviders,   // mark compromised / restore
  kManageIncidents,   // create, approve (as a second person), execute, export reports
  kManageStaff,
  kViewAudit,
};

const char* role_name(StaffRole role);                        // "viewer", "support", "responder", "admin"
std::optional<StaffRole> parse_role(std::string_view name);   // nullopt for anything else
bool role_allows(StaffRole role, Permission permission);
const char* permission_name(Permission permission);           // e.g. "lookup_accounts", for error messages

}  // namespace latchkey
