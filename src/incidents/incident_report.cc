#include "incidents/incident_report.h"

#include <string_view>

#include <fmt/format.h>

namespace latchkey {
namespace {

// Text from elsewhere (a provider's error) that a spreadsheet would run as a formula gets a leading quote.
std::string csv_field(std::string s) {
  if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos) s.insert(0, "'");
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

nlohmann::json incident_report_json(const std::vector<IncidentTarget>& targets) {
  nlohmann::json rows = nlohmann::json::array();
  for (const IncidentTarget& t : targets)
    rows.push_back({{"number", t.number},
                    {"hasAccount", t.has_account},
                    {"registeredInWindow", t.registered_in_window},
                    {"registrationLock", t.has_registration_lock},
                    {"unregisteredAt", t.unregistered_at},
                    {"notifiedAt", t.notified_at},
                    {"notifyProvider", t.notify_provider},
                    {"notifyMessageId", t.notify_message_id},
                    {"reregisteredAt", t.reregistered_at},
                    {"error", t.last_error}});
  return rows;
}

std::string incident_report_csv(const std::vector<IncidentTarget>& targets) {
  std::string csv =
      "number,has_account,registered_in_window,registration_lock,unregistered_at,notified_at,notify_provider,"
      "notify_message_id,reregistered_at,error\n";
  for (const IncidentTarget& t : targets)
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", t.number, int(t.has_account), int(t.registered_in_window),
                       int(t.has_registration_lock), t.unregistered_at, t.notified_at, csv_field(t.notify_provider),
                       csv_field(t.notify_message_id), t.reregistered_at, csv_field(t.last_error));
  return csv;
}

}  // namespace latchkey
