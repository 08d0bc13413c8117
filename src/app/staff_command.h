// `latchkeyd staff ...`: staff administration from the server host, for the first administrator (who cannot be
// invited from the console before anyone can sign in to it) and for recovery.
#pragma once

#include <string>

#include "core/config.h"

namespace latchkey {

// `staff invite --name NAME --role ROLE`: creates a single-use enrollment invite (audited with actor "cli") and
// prints its link on stdout. Answers the process exit code (0, or 1 with the reason on stderr).
int run_staff_invite(const Config& config, const std::string& name, const std::string& role);

// `staff list`: prints every staff member (id, name, role, state) on stdout.
int run_staff_list(const Config& config);

}  // namespace latchkey
