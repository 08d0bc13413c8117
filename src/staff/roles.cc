#include "staff/roles.h"

namespace latchkey {

const char* role_name(StaffRole role) {
  switch (role) {
    case StaffRole::kViewer: return "viewer";
    case StaffRole::kSupport: return "support";
    case StaffRole::kResponder: return "responder";
    case StaffRole::kAdmin: return "admin";
  }
  return "viewer";
}

std::optional<StaffRole> parse_role(std::string_view name) {
  if (name == "viewer") return StaffRole::kViewer;
  if (name == "support") return StaffRole::kSupport;
  if (name == "responder") return StaffRole::kResponder;
  if (name == "admin") return StaffRole::kAdmin;
  return std::nullopt;
}

bool role_allows(StaffRole role, Permission permission) {
  switch (permission) {
    case Permission::kViewAlerts:
    case Permission::kViewProviders:
    case Permission::kViewIncidents:
      return true;
    case Permission::kLookupAccounts:
    case Permission::kUnmaskNumbers:
      return role == StaffRole::kSupport || role == StaffRole::kResponder || role == StaffRole::kAdmin;
    case Permission::kManageProviders:
    case Permission::kManageIncidents:
      return role == StaffRole::kResponder || role == StaffRole::kAdmin;
    case Permission::kManageStaff:
    case Permission::kViewAudit:
      return role == StaffRole::kAdmin;
  }
  return false;
}

const char* permission_name(Permission permission) {
  switch (permission) {
    case Permission::kViewAlerts: return "view_alerts";
    case Permission::kViewProviders: return "view_providers";
    case Permission::kViewIncidents: return "view_incidents";
    case Permission::kLookupAccounts: return "lookup_accounts";
    case Permission::kUnmaskNumbers: return "unmask_numbers";
    case Permission::kManageProviders: return "manage_providers";
    case Permission::kManageIncidents: return "manage_incidents";
    case Permission::kManageStaff: return "manage_staff";
    case Permission::kViewAudit: return "view_audit";
  }
  return "unknown";
}

}  // namespace latchkey
