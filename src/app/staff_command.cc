#include "app/staff_command.h"

#include <ctime>
#include <iostream>

#include "audit/audit_service.h"
#include "core/logging.h"
#include "crypto/random.h"
#include "metrics/metrics.h"
#include "staff/staff_service.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

std::string iso_time(EpochMillis ms) {
  std::time_t seconds = ms / 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int fail(const std::string& what) {
  std::cerr << "latchkeyd staff: " << what << "\n";
  return 1;
}

}  // namespace

int run_staff_invite(const Config& config, const std::string& name, const std::string& role) {
  if (!initialize_crypto()) return fail("libsodium failed to initialise");
  auto storage = open_storage(config.storage);
  if (!storage.ok()) return fail(storage.error().message);
  auto key = load_or_create_audit_signing_key(config.audit);
  if (!key.ok()) return fail(key.error().message);
  SystemClock clock;
  SodiumRandom random;
  MetricsRegistry metrics;
  AuditService audit((*storage)->audit(), clock, std::move(key.value()), config.audit.checkpoint_file);
  StaffService staff(config.staff, (*storage)->staff(), audit, clock, random, metrics);
  auto link = staff.invite("cli", name, role);
  (*storage)->close();
  if (!link.ok()) return fail(link.error().message);
  std::cout << "Enrollment link for " << name << " (" << role << "), single use, valid until "
            << iso_time(link->expires_at) << ":\n"
            << link->url << "\n"
            << "Open it in a browser on the console's origin and register a passkey or security key.\n";
  return 0;
}

int run_staff_list(const Config& config) {
  if (!initialize_crypto()) return fail("libsodium failed to initialise");
  auto storage = open_storage(config.storage);
  if (!storage.ok()) return fail(storage.error().message);
  auto members = (*storage)->staff().list_members();
  (*storage)->close();
  if (!members.ok()) return fail(members.error().message);
  for (const StaffMember& m : *members)
    std::cout << m.id << "  " << m.role << "  " << (m.disabled_at ? "disabled" : "active") << "  " << m.name << "\n";
  if (members->empty()) std::cout << "no staff yet: run `latchkeyd staff invite --name NAME --role admin`\n";
  return 0;
}

}  // namespace latchkey
