#include "incidents/incident_service.h"

#include <algorithm>

#include "core/logging.h"
#include "core/phone_number.h"
#include "incidents/breach_report.h"
#include "incidents/notification_message.h"

namespace latchkey {
namespace {

constexpr EpochMillis kYear2000 = 946'684'800'000;
constexpr int kSuspectsLimit = 1'000'000;

}  // namespace

IncidentService::IncidentService(const IncidentsConfig& config, IncidentStore& store,
                                 VerificationSessionStore& sessions, SmsRouter& sms, AuditLog& audit,
                                 const Clock& clock, Random& random, MetricsRegistry& metrics)
    : config_(config),
      store_(store),
      sessions_(sessions),
      sms_(sms),
      audit_(audit),
      clock_(clock),
      random_(random),
      metrics_(metrics) {}

IncidentService::~IncidentService() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

Status IncidentService::resume() {
  auto compromised = store_.compromises();
  if (!compromised.ok()) return compromised.take_error();
  for (const auto& c : *compromised) sms_.set_enabled(c.provider, false);
  auto incidents = store_.list_incidents(10'000);
  if (!incidents.ok()) return incidents.take_error();
  for (const Incident& i : *incidents) {
    if (i.state != "running") continue;
    log::warn("incident_resumed", {{"incident", i.id}});
    start_background(i.id);
  }
  return {};
}

// ---- providers ----

Result<nlohmann::json> IncidentService::providers() {
  auto compromised = store_.compromises();
  if (!compromised.ok()) return compromised.take_error();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, enabled] : sms_.providers()) {
    nlohmann::json p = {{"name", name}, {"enabled", enabled}, {"compromised", false}};
    for (const auto& c : *compromised) {
      if (c.provider != name) continue;
      p["compromised"] = true;
      p["breachStartedAt"] = c.breach_started_at;
      p["markedAt"] = c.marked_at;
      p["markedBy"] = c.marked_by;
      p["note"] = c.note;
    }
    list.push_back(std::move(p));
  }
  return list;
}

Result<nlohmann::json> IncidentService::mark_compromised(const StaffPrincipal& by, const std::string& provider,
                                                         EpochMillis breach_started_at, const std::string& note) {
  const EpochMillis now = clock_.now_ms();
  bool known = false;
  for (const auto& [name, enabled] : sms_.providers()) known = known || name == provider;
  if (!known) return make_error(ErrorCode::kNotFound, "no SMS provider is named " + provider);
  if (breach_started_at < kYear2000 || breach_started_at > now)
    return make_error(ErrorCode::kMalformedRequest, "breachStartedAt: expected a time in the past (epoch ms)");
  if (note.size() > 2000) return make_error(ErrorCode::kMalformedRequest, "note: at most 2000 characters");
  // Routing stops using it first: no code goes through it from now on.
  sms_.set_enabled(provider, false);
  LK_RETURN_IF_ERROR(store_.put_compromise({provider, breach_started_at, now, by.actor(), note}));
  auto ended = sessions_.invalidate_by_provider(provider, now);
  if (!ended.ok()) return ended.take_error();
  auto suspects = store_.registrations_through(provider, breach_started_at, kSuspectsLimit);
  if (!suspects.ok()) return suspects.take_error();
  metrics_.counter("latchkey_provider_compromises_total", "SMS providers marked compromised").inc();
  log::warn("provider_marked_compromised",
            {{"provider", provider}, {"invalidated_sessions", *ended}, {"suspects", suspects->size()}});
  auto audited = audit_.record(by.actor(), "provider.compromise", provider,
                               {{"breachStartedAt", breach_started_at},
                                {"note", note},
                                {"invalidatedSessions", *ended},
                                {"suspects", suspects->size()}});
  if (!audited.ok()) return audited.take_error();
  return nlohmann::json{{"invalidatedSessions", *ended}, {"suspects", suspects->size()}};
}

Status IncidentService::restore_provider(const StaffPrincipal& by, const std::string& provider) {
  auto compromised = store_.compromises();
  if (!compromised.ok()) return compromised.take_error();
  bool marked = std::any_of(compromised->begin(), compromised->end(),
                            [&](const ProviderCompromise& c) { return c.provider == provider; });
  if (!marked) return make_error(ErrorCode::kNotFound, provider + " is not marked compromised");
  LK_RETURN_IF_ERROR(store_.delete_compromise(provider));
  sms_.set_enabled(provider, true);
  auto audited = audit_.record(by.actor(), "provider.restore", provider, nlohmann::json::object());
  if (!audited.ok()) return audited.take_error();
  return {};
}

Result<std::vector<RegistrationLogEntry>> IncidentService::suspects(const std::string& provider) {
  auto compromised = store_.compromises();
  if (!compromised.ok()) return compromised.take_error();
  for (const auto& c : *compromised)
    if (c.provider == provider) return store_.registrations_through(provider, c.breach_started_at, kSuspectsLimit);
  return make_error(ErrorCode::kNotFound, provider + " is not marked compromised");
}

// ---- incidents ----

Result<Incident> IncidentService::create(const StaffPrincipal& by, Incident incident,
                                         const std::vector<std::string>& numbers) {
  if (incident.description.empty() || incident.description.size() > 2000)
    return make_error(ErrorCode::kMalformedRequest, "description: 1 to 2000 characters");
  incident.id = new_uuid(random_);
  incident.created_by = by.actor();
  incident.created_at = clock_.now_ms();
  incident.state = "draft";
  std::vector<std::string> languages;
  languages.reserve(numbers.size());
  for (const std::string& n : numbers) {
    auto parsed = parse_phone_number(n);
    languages.push_back(notification_language(parsed.ok() ? parsed->region : "", config_.default_language));
  }
  LK_RETURN_IF_ERROR(store_.create_incident(incident, numbers, languages));
  auto counts = store_.counts(incident.id);
  if (!counts.ok()) return counts.take_error();
  auto audited = audit_.record(by.actor(), "incident.create", incident.id,
                               {{"source", incident.source},
                                {"provider", incident.provider},
                                {"windowStart", incident.window_start},
                                {"windowEnd", incident.window_end},
                                {"numbers", counts->targets},
                                {"withAccount", counts->with_account}});
  if (!audited.ok()) return audited.take_error();
  return incident;
}

Result<Incident> IncidentService::create_from_report(const StaffPrincipal& by, const std::string& description,
                                                     EpochMillis window_start, EpochMillis window_end,
                                                     const std::string& format, const std::string& content,
                                                     std::vector<std::string>* problems) {
  if (window_start < kYear2000 || window_end < window_start)
    return make_error(ErrorCode::kMalformedRequest, "windowStart and windowEnd: epoch ms with windowStart <= windowEnd");
  auto report = parse_breach_report(format, content, config_.max_report_numbers);
  if (!report.ok()) return report.take_error();
  if (problems) *problems = report->problems;
  Incident incident;
  incident.description = description;
  incident.source = "report";
  incident.window_start = window_start;
  incident.window_end = window_end;
  return create(by, std::move(incident), report->numbers);
}

Result<Incident> IncidentService::create_from_provider(const StaffPrincipal& by, const std::string& description,
                                                       const std::string& provider) {
  auto compromised = store_.compromises();
  if (!compromised.ok()) return compromised.take_error();
  auto it = std::find_if(compromised->begin(), compromised->end(),
                         [&](const ProviderCompromise& c) { return c.provider == provider; });
  if (it == compromised->end()) return make_error(ErrorCode::kNotFound, provider + " is not marked compromised");
  auto suspects = store_.registrations_through(provider, it->breach_started_at, kSuspectsLimit);
  if (!suspects.ok()) return suspects.take_error();
  std::vector<std::string> numbers;
  std::set<std::string> seen;
  for (const auto& s : *suspects)
    if (seen.insert(s.number).second) numbers.push_back(s.number);
  if (numbers.empty())
    return make_error(ErrorCode::kMalformedRequest, "no registration went through " + provider + " since the breach");
  Incident incident;
  incident.description = description;
  incident.source = "provider";
  incident.provider = provider;
  incident.window_start = it->breach_started_at;
  incident.window_end = clock_.now_ms();
  return create(by, std::move(incident), numbers);
}

Result<std::vector<Incident>> IncidentService::list() { return store_.list_incidents(500); }

Result<IncidentProgress> IncidentService::progress(const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  auto counts = store_.counts(id);
  if (!counts.ok()) return counts.take_error();
  IncidentProgress p{**incident, *counts, 0, {}};
  if (p.counts.failed > 0) {
    auto failed = store_.failed_targets(id, 20);
    if (!failed.ok()) return failed.take_error();
    p.errors = std::move(*failed);
  }
  if (p.incident.started_at > 0) {
    const EpochMillis end = p.incident.completed_at > p.incident.started_at ? p.incident.completed_at : clock_.now_ms();
    const double seconds = std::max<double>(0.001, (end - p.incident.started_at) / 1000.0);
    p.notified_per_second = p.counts.notified / seconds;
  }
  return p;
}

Result<std::vector<IncidentTarget>> IncidentService::targets(const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  return store_.targets(id);
}

Status IncidentService::approve(const StaffPrincipal& by, const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  if ((*incident)->created_by == by.actor())
    return make_error(ErrorCode::kForbidden, "two-person rule: the incident must be approved by someone other than its creator");
  Status moved = store_.transition(id, "draft", "approved", by.actor(), clock_.now_ms());
  if (!moved.ok()) {
    if (moved.error().code == ErrorCode::kConflict)
      return make_error(ErrorCode::kConflict, "only a draft can be approved (this one is " + (*incident)->state + ")");
    return moved;
  }
  auto audited = audit_.record(by.actor(), "incident.approve", id, {{"createdBy", (*incident)->created_by}});
  if (!audited.ok()) return audited.take_error();
  return {};
}

Status IncidentService::execute(const StaffPrincipal& by, const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  const std::string state = (*incident)->state;
  if (state != "approved" && state != "completed")
    return make_error(ErrorCode::kConflict, "only an approved (or completed, to re-run) incident can be executed; this one is " + state);
  Status moved = store_.transition(id, state, "running", "", clock_.now_ms());
  if (!moved.ok()) return moved;
  auto audited = audit_.record(by.actor(), "incident.execute", id, {{"rerun", state == "completed"}});
  if (!audited.ok()) return audited.take_error();
  start_background(id);
  return {};
}

Status IncidentService::cancel(const StaffPrincipal& by, const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  const std::string state = (*incident)->state;
  if (state != "draft" && state != "approved")
    return make_error(ErrorCode::kConflict, "only a draft or approved incident can be cancelled; this one is " + state);
  LK_RETURN_IF_ERROR(store_.transition(id, state, "cancelled", "", clock_.now_ms()));
  auto audited = audit_.record(by.actor(), "incident.cancel", id, nlohmann::json::object());
  if (!audited.ok()) return audited.take_error();
  return {};
}

Status IncidentService::audit_export(const StaffPrincipal& by, const std::string& id, const std::string& format) {
  auto audited = audit_.record(by.actor(), "incident.report_export", id, {{"format", format}});
  if (!audited.ok()) return audited.take_error();
  return {};
}

void IncidentService::start_background(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (!running_.insert(id).second) return;  // already running here
  threads_.emplace_back([this, id] {
    Status done = run(id);
    if (!done.ok()) log::error("incident_run_failed", {{"incident", id}, {"reason", done.error().message}});
    std::lock_guard relock(mutex_);
    running_.erase(id);
  });
}

std::vector<std::string> IncidentService::excluded_providers(const Incident& incident) {
  std::vector<std::string> excluded;
  if (!incident.provider.empty()) excluded.push_back(incident.provider);
  if (auto compromised = store_.compromises(); compromised.ok())
    for (const auto& c : *compromised) excluded.push_back(c.provider);
  return excluded;
}

Status IncidentService::unregister_all(const Incident& incident) {
  Counter& unregistered = metrics_.counter("latchkey_incident_unregistered_total", "Accounts unregistered by incidents");
  for (;;) {
    auto batch = store_.pending_unregistration(incident.id, config_.batch_size);
    if (!batch.ok()) return batch.take_error();
    if (batch->empty()) return {};
    LK_RETURN_IF_ERROR(store_.unregister_targets(incident.id, *batch, clock_.now_ms()));
    unregistered.inc(batch->size());
    if (unregistered_)
      for (const IncidentTarget& t : *batch) unregistered_(t.uuid);
  }
}

Status IncidentService::notify_all(const Incident& incident) {
  auto pending = store_.pending_notification(incident.id, 100'000'000);
  if (!pending.ok()) return pending.take_error();
  const std::vector<std::string> excluded = excluded_providers(incident);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> storage_failed{false};
  Counter& sent = metrics_.counter("latchkey_incident_notifications_total", "Incident notifications by outcome",
                                   {{"outcome", "sent"}});
  Counter& failed = metrics_.counter("latchkey_incident_notifications_total", "Incident notifications by outcome",
                                     {{"outcome", "failed"}});
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= pending->size() || storage_failed.load()) return;
      const IncidentTarget& t = (*pending)[i];
      auto number = parse_phone_number(t.number);
      OutgoingMessage message;
      message.to = t.number;
      message.country_code = number.ok() ? number->country_code : "";
      message.transport = Transport::kSms;
      message.body = notification_text(t.language, config_.support_url);
      auto receipt = sms_.send_avoiding(message, excluded);
      Status recorded = receipt.ok()
                            ? store_.mark_notified(incident.id, t.number, clock_.now_ms(), receipt->provider,
                                                   receipt->provider_message_id)
                            : store_.mark_failed(incident.id, t.number, receipt.error().message);
      (receipt.ok() ? sent : failed).inc();
      if (!recorded.ok()) storage_failed.store(true);
    }
  };
  const int threads = std::max(1, std::min<int>(config_.notify_parallelism, static_cast<int>(pending->size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (storage_failed.load()) return make_error(ErrorCode::kUnavailable, "recording notifications failed; re-run the incident");
  return {};
}

Status IncidentService::run(const std::string& id) {
  auto incident = store_.find_incident(id);
  if (!incident.ok()) return incident.take_error();
  if (!incident->has_value()) return make_error(ErrorCode::kNotFound, "no such incident");
  if ((*incident)->state != "running") return make_error(ErrorCode::kConflict, "the incident is not running");
  log::info("incident_run_started", {{"incident", id}});
  // First every account is unregistered (the attacker loses access at once), then users are told.
  LK_RETURN_IF_ERROR(unregister_all(**incident));
  LK_RETURN_IF_ERROR(notify_all(**incident));
  LK_RETURN_IF_ERROR(store_.transition(id, "running", "completed", "", clock_.now_ms()));
  auto counts = store_.counts(id);
  if (counts.ok())
    log::info("incident_run_completed",
              {{"incident", id}, {"unregistered", counts->unregistered}, {"notified", counts->notified},
               {"failed", counts->failed}});
  auto audited = audit_.record("system", "incident.completed", id,
                               counts.ok() ? nlohmann::json{{"unregistered", counts->unregistered},
                                                            {"notified", counts->notified},
                                                            {"failed", counts->failed}}
                                           : nlohmann::json::object());
  if (!audited.ok()) return audited.take_error();
  return {};
}

}  // namespace latchkey
