// The final report of an incident, one row per affected number, as JSON and CSV (the console's export and
// `latchkeyd incident report`). Full numbers: for responders; exporting it is audited by the caller.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/incident_store.h"

namespace latchkey {

// [{"number","hasAccount","registeredInWindow","registrationLock","unregisteredAt","notifiedAt","notifyProvider",
//   "notifyMessageId","reregisteredAt","error"}]
nlohmann::json incident_report_json(const std::vector<IncidentTarget>& targets);

// A header line, then one line per number with the same columns in snake_case (RFC 4180 quoting).
std::string incident_report_csv(const std::vector<IncidentTarget>& targets);

}  // namespace latchkey
