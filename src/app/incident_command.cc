#include "app/incident_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/phone_number.h"
#include "incidents/incident_report.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

int fail(const std::string& what) {
  std::cerr << "latchkeyd incident: " << what << "\n";
  return 1;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string bar(std::int64_t done, std::int64_t total, int width = 30) {
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

void print_progress(const Incident& i, const IncidentCounts& c, bool tty) {
  const std::int64_t end = i.completed_at > 0 ? i.completed_at : now_ms();
  const double seconds = i.started_at > 0 ? std::max(0.001, (end - i.started_at) / 1000.0) : 0;
  const std::string line = fmt::format(
      "{} unregistered {} {}/{}  notified {} {}/{}  failed {}  {:.0f}/s  {}", i.state,
      bar(c.unregistered, c.with_account, 15), c.unregistered, c.with_account, bar(c.notified, c.with_account, 15),
      c.notified, c.with_account, c.failed, seconds > 0 ? c.notified / seconds : 0.0,
      i.started_at > 0 ? fmt::format("{:.1f}s", seconds) : "not started");
  if (tty) std::cout << "\r\033[K" << line << std::flush;
  else std::cout << line << "\n";
}

// Masked numbers and the provider's reason, for the targets that could not be notified.
void print_errors(IncidentStore& store, const std::string& id, std::int64_t failed) {
  if (failed == 0) return;
  auto list = store.failed_targets(id, 20);
  if (!list.ok()) return;
  std::cout << "  not notified (" << failed << "; re-run the incident to retry):\n";
  for (const IncidentTarget& t : *list) std::cout << "    " << mask_phone_number(t.number) << "  " << t.last_error << "\n";
}

}  // namespace

int run_incident_command(const Config& config, const std::string& verb, const std::string& id,
                         const std::string& format) {
  auto opened = open_storage(config.storage);
  if (!opened.ok()) return fail(opened.error().message);
  std::unique_ptr<Storage> storage = std::move(opened.value());
  IncidentStore& store = storage->incidents();

  if (verb == "list") {
    auto list = store.list_incidents(500);
    if (!list.ok()) return fail(list.error().message);
    for (const Incident& i : *list)
      std::cout << i.id << "  " << i.state << "  created by " << i.created_by << "  " << i.description << "\n";
    if (list->empty()) std::cout << "no incidents\n";
    return 0;
  }
  auto incident = store.find_incident(id);
  if (!incident.ok()) return fail(incident.error().message);
  if (!incident->has_value()) return fail("no incident " + id);
  const Incident& i = **incident;

  if (verb == "show") {
    auto c = store.counts(id);
    if (!c.ok()) return fail(c.error().message);
    std::cout << "incident " << i.id << " (" << i.state << ")\n"
              << "  " << i.description << "\n"
              << "  created by " << i.created_by << ", approved by " << (i.approved_by.empty() ? "-" : i.approved_by)
              << "\n"
              << "  numbers " << c->targets << ", with an account " << c->with_account << ", registered in the window "
              << c->registered_in_window << ", with Registration Lock " << c->with_registration_lock << "\n"
              << "  unregistered " << c->unregistered << ", notified " << c->notified << ", failed " << c->failed
              << ", re-registered since " << c->reregistered << "\n";
    print_errors(store, id, c->failed);
    return 0;
  }
  if (verb == "watch") {
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    for (;;) {
      auto now = store.find_incident(id);
      auto c = store.counts(id);
      if (!now.ok() || !now->has_value() || !c.ok()) return fail("cannot read the incident");
      print_progress(**now, *c, tty);
      const std::string& state = (*now)->state;
      if (state == "completed" || state == "cancelled") {
        if (tty) std::cout << "\n";
        print_errors(store, id, c->failed);
        return c->failed > 0 ? 1 : 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 1000));
    }
  }
  if (verb == "report") {
    auto targets = store.targets(id);
    if (!targets.ok()) return fail(targets.error().message);
    if (format == "csv") {
      std::cout << incident_report_csv(*targets);
      return 0;
    }
    if (format != "json") return fail("--format: expected json or csv");
    std::cout << nlohmann::json{{"incident", id}, {"state", i.state}, {"targets", incident_report_json(*targets)}}.dump(2)
              << "\n";
    return 0;
  }
  return fail("unknown command " + verb);
}

}  // namespace latchkey
