// Provider compromise and incidents in the staff console (docs/api.md, "Providers and incidents").
#include <charconv>

#include <fmt/format.h>

#include "core/phone_number.h"
#include "incidents/incident_report.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"
#include "net/staff_http.h"

namespace latchkey {
namespace {

nlohmann::json incident_json(const Incident& i) {
  return {{"id", i.id},
          {"description", i.description},
          {"source", i.source},
          {"provider", i.provider},
          {"windowStart", i.window_start},
          {"windowEnd", i.window_end},
          {"state", i.state},
          {"createdBy", i.created_by},
          {"createdAt", i.created_at},
          {"approvedBy", i.approved_by},
          {"approvedAt", i.approved_at},
          {"startedAt", i.started_at},
          {"completedAt", i.completed_at}};
}

nlohmann::json counts_json(const IncidentCounts& c) {
  return {{"numbers", c.targets},
          {"withAccount", c.with_account},
          {"registeredInWindow", c.registered_in_window},
          {"withRegistrationLock", c.with_registration_lock},
          {"unregistered", c.unregistered},
          {"notified", c.notified},
          {"failed", c.failed},
          {"reregistered", c.reregistered}};
}

// Masked numbers: the report export is the one place with full numbers.
nlohmann::json errors_json(const std::vector<IncidentTarget>& failed) {
  nlohmann::json out = nlohmann::json::array();
  for (const IncidentTarget& t : failed) out.push_back({{"number", mask_phone_number(t.number)}, {"error", t.last_error}});
  return out;
}

}  // namespace

void add_incident_routes(Router& router, IncidentService& incidents, StaffAuthorizer& staff) {
  router.add("GET", "/staff/api/providers", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewProviders);
    if (!me.ok()) return staff_error(me.error());
    auto list = incidents.providers();
    if (!list.ok()) return staff_error(list.error());
    return staff_json(200, {{"providers", *list}});
  });

  router.add("POST", "/staff/api/providers/{name}/compromise", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageProviders);
    if (!me.ok()) return staff_error(me.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    auto since = required_integer(*body, "", "breachStartedAt");
    if (!since.ok()) return staff_error(since.error());
    auto note = optional_string(*body, "", "note", 2000);
    if (!note.ok()) return staff_error(note.error());
    auto result = incidents.mark_compromised(*me, request.path_params[0], *since, note->value_or(""));
    if (!result.ok()) return staff_error(result.error());
    return staff_json(200, *result);
  });

  router.add("POST", "/staff/api/providers/{name}/restore", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageProviders);
    if (!me.ok()) return staff_error(me.error());
    Status restored = incidents.restore_provider(*me, request.path_params[0]);
    if (!restored.ok()) return staff_error(restored.error());
    return staff_json(200, {{"restored", true}});
  });

  router.add("GET", "/staff/api/providers/{name}/suspects", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewProviders);
    if (!me.ok()) return staff_error(me.error());
    auto list = incidents.suspects(request.path_params[0]);
    if (!list.ok()) return staff_error(list.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : *list)
      out.push_back({{"number", mask_phone_number(s.number)},
                     {"uuid", s.uuid},
                     {"at", s.at},
                     {"replacedExisting", s.replaced_existing}});
    return staff_json(200, {{"suspects", out}});
  });

  router.add("GET", "/staff/api/incidents", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewIncidents);
    if (!me.ok()) return staff_error(me.error());
    auto list = incidents.list();
    if (!list.ok()) return staff_error(list.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& i : *list) out.push_back(incident_json(i));
    return staff_json(200, {{"incidents", out}});
  });

  router.add("POST", "/staff/api/incidents", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageIncidents);
    if (!me.ok()) return staff_error(me.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    auto description = required_string(*body, "", "description", 2000);
    if (!description.ok()) return staff_error(description.error());
    auto from_provider = optional_string(*body, "", "fromProvider", 128);
    if (!from_provider.ok()) return staff_error(from_provider.error());
    std::vector<std::string> problems;
    Result<Incident> created = make_error(ErrorCode::kInternal, "unset");
    if (from_provider->has_value()) {
      created = incidents.create_from_provider(*me, *description, **from_provider);
    } else {
      auto start = required_integer(*body, "", "windowStart");
      if (!start.ok()) return staff_error(start.error());
      auto end = required_integer(*body, "", "windowEnd");
      if (!end.ok()) return staff_error(end.error());
      auto report = body->find("report");
      if (report == body->end() || !report->is_object())
        return staff_error(make_error(ErrorCode::kMalformedRequest,
                                      "report: expected {\"format\": \"csv\"|\"json\", \"content\": \"...\"} (or fromProvider)"));
      auto format = required_string(*report, "report.", "format", 8);
      if (!format.ok()) return staff_error(format.error());
      auto content = required_string(*report, "report.", "content", 64 * 1024 * 1024);
      if (!content.ok()) return staff_error(content.error());
      created = incidents.create_from_report(*me, *description, *start, *end, *format, *content, &problems);
    }
    if (!created.ok()) return staff_error(created.error());
    auto progress = incidents.progress(created->id);
    if (!progress.ok()) return staff_error(progress.error());
    return staff_json(201, {{"incident", incident_json(progress->incident)},
                            {"impact", counts_json(progress->counts)},
                            {"problems", problems}});
  });

  router.add("GET", "/staff/api/incidents/{id}", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewIncidents);
    if (!me.ok()) return staff_error(me.error());
    auto progress = incidents.progress(request.path_params[0]);
    if (!progress.ok()) return staff_error(progress.error());
    auto targets = incidents.targets(request.path_params[0]);
    if (!targets.ok()) return staff_error(targets.error());
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < targets->size() && i < 1000; ++i) {
      const IncidentTarget& t = (*targets)[i];
      list.push_back({{"number", mask_phone_number(t.number)},
                      {"hasAccount", t.has_account},
                      {"registeredInWindow", t.registered_in_window},
                      {"registrationLock", t.has_registration_lock},
                      {"language", t.language},
                      {"unregisteredAt", t.unregistered_at},
                      {"notifiedAt", t.notified_at},
                      {"error", t.last_error}});
    }
    return staff_json(200, {{"incident", incident_json(progress->incident)},
                            {"impact", counts_json(progress->counts)},
                            {"targets", list},
                            {"targetsShown", list.size()}});
  });

  auto action = [&](const char* path, Status (IncidentService::*method)(const StaffPrincipal&, const std::string&),
                    int status) {
    router.add("POST", path, HandlerPool::kWorker, [&incidents, &staff, method, status](HttpRequest& request) {
      auto me = staff.authorize(request, Permission::kManageIncidents);
      if (!me.ok()) return staff_error(me.error());
      Status done = (incidents.*method)(*me, request.path_params[0]);
      if (!done.ok()) return staff_error(done.error());
      auto progress = incidents.progress(request.path_params[0]);
      if (!progress.ok()) return staff_error(progress.error());
      return staff_json(status, {{"incident", incident_json(progress->incident)}});
    });
  };
  action("/staff/api/incidents/{id}/approve", &IncidentService::approve, 200);
  action("/staff/api/incidents/{id}/execute", &IncidentService::execute, 202);
  action("/staff/api/incidents/{id}/cancel", &IncidentService::cancel, 200);

  router.add("GET", "/staff/api/incidents/{id}/progress", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewIncidents);
    if (!me.ok()) return staff_error(me.error());
    auto progress = incidents.progress(request.path_params[0]);
    if (!progress.ok()) return staff_error(progress.error());
    return staff_json(200, {{"state", progress->incident.state},
                            {"startedAt", progress->incident.started_at},
                            {"completedAt", progress->incident.completed_at},
                            {"counts", counts_json(progress->counts)},
                            {"notifiedPerSecond", progress->notified_per_second},
                            {"errors", errors_json(progress->errors)}});
  });

  router.add("GET", "/staff/api/incidents/{id}/report", HandlerPool::kWorker, [&](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageIncidents);
    if (!me.ok()) return staff_error(me.error());
    std::string format = query_parameter(request.query, "format");
    if (format.empty()) format = "json";
    if (format != "json" && format != "csv")
      return staff_error(make_error(ErrorCode::kMalformedRequest, "format: expected json or csv"));
    auto targets = incidents.targets(request.path_params[0]);
    if (!targets.ok()) return staff_error(targets.error());
    Status audited = incidents.audit_export(*me, request.path_params[0], format);
    if (!audited.ok()) return staff_error(audited.error());
    if (format == "csv") {
      HttpResponse response = HttpResponse::text(200, incident_report_csv(*targets), "text/csv; charset=utf-8");
      add_console_security_headers(response);
      response.headers.emplace_back("Content-Disposition",
                                    "attachment; filename=\"incident-" + request.path_params[0] + ".csv\"");
      return response;
    }
    return staff_json(200, {{"incident", request.path_params[0]}, {"targets", incident_report_json(*targets)}});
  });
}

}  // namespace latchkey
