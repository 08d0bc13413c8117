// How staff endpoints learn who is calling. Implemented by StaffService (staff/staff_service.h); route files
// take this interface so they need nothing else from the staff domain.
#pragma once

#include <string>

#include "core/error.h"
#include "net/http_types.h"
#include "staff/roles.h"

namespace latchkey {

struct StaffPrincipal {
  std::string staff_id;
  std::string name;
  StaffRole role = StaffRole::kViewer;

  std::string actor() const { return "staff:" + staff_id; }  // AuditEntry::actor
};

// Thread-safe; may block on storage (call from a worker thread).
class StaffAuthorizer {
 public:
  virtual ~StaffAuthorizer() = default;

  // Reads the session cookie, checks the session is live (and extends its idle deadline) and that the role allows
  // `permission`. For methods other than GET and HEAD also requires an Origin header naming one of staff.origins
  // (cross-site request forgery).
  // Errors: kUnauthorized (no, unknown or expired session), kForbidden (the role lacks the permission, or a bad
  // Origin; the message names which).
  virtual Result<StaffPrincipal> authorize(const HttpRequest& request, Permission permission) = 0;
};

}  // namespace latchkey
