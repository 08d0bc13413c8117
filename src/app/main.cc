// latchkeyd: the Latchkey server. Parses the command line and hands over to the composition root.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/application.h"
#include "app/incident_command.h"
#include "app/staff_command.h"
#include "app/audit_command.h"
#include "core/config.h"
#include "core/logging.h"

namespace {

constexpr int kExitBadConfig = 2;
constexpr int kExitStartFailed = 1;

latchkey::Result<latchkey::Config> load(const std::string& path) {
  if (path.empty()) return latchkey::default_config();
  return latchkey::load_config_file(path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"latchkeyd: account registration and message relay for end-to-end encrypted messengers"};
  app.require_subcommand(1);

  std::string config_path, listen, data_dir;
  auto* serve = app.add_subcommand("serve", "Run the server until SIGTERM or SIGINT");
  serve->add_option("-c,--config", config_path, "TOML configuration file (default: built-in development defaults)");
  serve->add_option("--listen", listen, "Override server.listen, e.g. 127.0.0.1:8080");
  serve->add_option("--data-dir", data_dir, "Put every state file (database, outbox, secret key) in this folder");

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and list every problem");
  check->add_option("-c,--config", check_path, "TOML configuration file")->required();

  auto* version = app.add_subcommand("version", "Print the version");

  std::string staff_config_path, staff_data_dir, staff_name, staff_role;
  auto* staff = app.add_subcommand("staff", "Staff administration from the server host");
  staff->require_subcommand(1);
  auto* staff_invite = staff->add_subcommand("invite", "Print a single-use enrollment link for a new staff member");
  staff_invite->add_option("--name", staff_name, "Name shown in the console and the audit log")->required();
  staff_invite->add_option("--role", staff_role, "viewer, support, responder or admin")->required();
  auto* staff_list = staff->add_subcommand("list", "List staff members");
  std::string incident_config_path, incident_data_dir, incident_id, incident_format = "json";
  auto* incident = app.add_subcommand("incident", "Incidents, read from the database (approve and execute in the console)");
  incident->require_subcommand(1);
  auto* incident_list = incident->add_subcommand("list", "List incidents");
  auto* incident_show = incident->add_subcommand("show", "An incident's impact and progress");
  auto* incident_watch = incident->add_subcommand("watch", "A progress bar until the run completes");
  auto* incident_report = incident->add_subcommand("report", "The final report: who was notified when, who re-registered");
  for (auto* command : {incident_show, incident_watch, incident_report})
    command->add_option("id", incident_id, "Incident id")->required();
  incident_report->add_option("--format", incident_format, "json or csv");
  for (auto* command : {incident_list, incident_show, incident_watch, incident_report}) {
    command->add_option("-c,--config", incident_config_path, "TOML configuration file of the server");
    command->add_option("--data-dir", incident_data_dir, "The server's --data-dir, if it uses one");
  }
  for (auto* command : {staff_invite, staff_list}) {
    command->add_option("-c,--config", staff_config_path, "TOML configuration file of the server");
    command->add_option("--data-dir", staff_data_dir, "The server's --data-dir, if it uses one");
  }

  std::string audit_config_path, audit_data_dir, audit_public_key, audit_checkpoints;
  auto* audit = app.add_subcommand("audit", "Check or checkpoint the tamper-evident audit log");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand(
      "verify", "Re-hash the audit log and check its signed checkpoints (exit 0 intact, 1 tampered, 2 cannot verify)");
  audit_verify->add_option("--public-key", audit_public_key,
                           "Checkpoint public key, 64 hex characters (default: derived from audit.signing_key_file)");
  audit_verify->add_option("--checkpoints", audit_checkpoints,
                           "Checkpoint file to check against, e.g. a copy kept off the host (default: audit.checkpoint_file)");
  auto* audit_checkpoint = audit->add_subcommand("checkpoint", "Sign the current head into audit.checkpoint_file now");
  for (auto* command : {audit_verify, audit_checkpoint}) {
    command->add_option("-c,--config", audit_config_path, "TOML configuration file of the server");
    command->add_option("--data-dir", audit_data_dir, "The server's --data-dir, if it uses one");
  }

  CLI11_PARSE(app, argc, argv);

  if (*version) {
    std::cout << "latchkeyd " << LATCHKEY_VERSION << "\n";
    return 0;
  }
  if (*check) {
    auto config = latchkey::load_config_file(check_path);
    if (!config.ok()) {
      std::cerr << config.error().message << "\n";
      return kExitBadConfig;
    }
    std::cout << check_path << ": ok\n";
    return 0;
  }

  if (*audit) {
    auto audit_config = load(audit_config_path);
    if (!audit_config.ok()) {
      std::cerr << "latchkeyd: the configuration has problems:\n" << audit_config.error().message << "\n";
      return kExitBadConfig;
    }
    if (!audit_data_dir.empty()) latchkey::relocate_state_files(*audit_config, audit_data_dir);
    if (*audit_verify) return latchkey::run_audit_verify(*audit_config, audit_public_key, audit_checkpoints);
    return latchkey::run_audit_checkpoint(*audit_config);
  }

  if (*incident) {
    auto incident_config = load(incident_config_path);
    if (!incident_config.ok()) {
      std::cerr << "latchkeyd: the configuration has problems:\n" << incident_config.error().message << "\n";
      return kExitBadConfig;
    }
    if (!incident_data_dir.empty()) latchkey::relocate_state_files(*incident_config, incident_data_dir);
    const std::string verb = *incident_list ? "list" : *incident_show ? "show" : *incident_watch ? "watch" : "report";
    return latchkey::run_incident_command(*incident_config, verb, incident_id, incident_format);
  }
  if (*staff) {
    auto staff_config = load(staff_config_path);
    if (!staff_config.ok()) {
      std::cerr << "latchkeyd: the configuration has problems:\n" << staff_config.error().message << "\n";
      return kExitBadConfig;
    }
    if (!staff_data_dir.empty()) latchkey::relocate_state_files(*staff_config, staff_data_dir);
    if (*staff_invite) return latchkey::run_staff_invite(*staff_config, staff_name, staff_role);
    return latchkey::run_staff_list(*staff_config);
  }

  auto config = load(config_path);
  if (!config.ok()) {
    std::cerr << "latchkeyd: the configuration has problems:\n" << config.error().message << "\n";
    return kExitBadConfig;
  }
  if (!listen.empty()) config->server.listen = listen;
  if (!data_dir.empty()) latchkey::relocate_state_files(*config, data_dir);
  if (auto problems = latchkey::validate_config(*config); !problems.empty()) {
    std::cerr << "latchkeyd: the configuration has problems:\n";
    for (const auto& p : problems) std::cerr << p << "\n";
    return kExitBadConfig;
  }

  latchkey::Application application(std::move(config.value()));
  if (auto started = application.start(); !started.ok()) {
    latchkey::log::error("start_failed", {{"reason", started.error().message}});
    return kExitStartFailed;
  }
  return application.run();
}
