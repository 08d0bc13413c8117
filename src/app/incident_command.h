// `latchkeyd incident ...`: incidents from the server host, read from the database (safe while the server
// runs). Approving and executing happen in the console, where a second signed-in staff member is required.
#pragma once

#include <string>

#include "core/config.h"

namespace latchkey {

// `list`, `show ID`, `watch ID` (a progress bar until the run completes) and `report ID --format json|csv`.
// Answers the process exit code.
int run_incident_command(const Config& config, const std::string& verb, const std::string& id,
                         const std::string& format);

}  // namespace latchkey
