// `latchkey`: the reference command-line client (client/README.md). main() only parses the command line,
// runs one command and turns its Error into a message and an exit code.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "client/commands/commands.h"
#include "client/core/exit_codes.h"
#include "crypto/random.h"

using namespace latchkey::client;

namespace {

std::string default_store() {
  if (const char* env = std::getenv("LATCHKEY_STORE"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.latchkey/latchkey.db";
}

int report(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kUnregistered:
      std::cerr << "latchkey: THIS DEVICE IS NO LONGER REGISTERED.\n"
                << "The server does not accept this device any more: the phone number was registered again\n"
                << "(on another phone or installation), the account was deleted, or this device was removed\n"
                << "from the account. Messages can no longer be sent or received here. Register again with\n"
                << "`latchkey register +NUMBER`, or link this device again with `latchkey link`.\n";
      return kExitUnregistered;
    case ErrorKind::kUsage:
      std::cerr << "latchkey: " << e.message << std::endl;
      return kExitUsage;
    case ErrorKind::kPending:
      std::cerr << "latchkey: " << e.message << std::endl;
      return kExitPending;
    case ErrorKind::kTimeout:
      std::cerr << "latchkey: " << e.message << std::endl;
      return kExitTimeout;
    default:
      std::cerr << "latchkey: " << e.message << std::endl;
      return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::umask(077);
  if (!latchkey::initialize_crypto()) {
    std::cerr << "latchkey: libsodium cannot initialise" << std::endl;
    return kExitFailure;
  }
  CLI::App app{"latchkey: end-to-end encrypted messages through a Latchkey server"};
  app.require_subcommand(1);
  GlobalOptions global;
  global.store_path = default_store();
  app.add_option("--server", global.server, "server URL (default: the one registered with, else http://127.0.0.1:8080)")
      ->envname("LATCHKEY_SERVER");
  app.add_option("--store", global.store_path, "local store file (keys, sessions); env LATCHKEY_STORE")
      ->capture_default_str();
  app.add_flag("--json", global.json, "machine-readable output: one JSON object per line");

  std::function<Result<int>()> command;

  RegisterOptions reg;
  auto* register_cmd = app.add_subcommand("register", "register a phone number (SMS code typed on stdin)");
  register_cmd->add_option("number", reg.number, "phone number in international format, e.g. +33612345678")->required();
  register_cmd->add_option("--pin", reg.pin, "set up a PIN: backup and Registration Lock; unlocks a locked number");
  register_cmd->add_option("--name", reg.name, "this device's name (stored encrypted)");
  register_cmd->add_flag("--force", reg.force, "replace an account of another number held in this store");
  register_cmd->callback([&] { command = [&] { return run_register(global, reg); }; });

  std::string pin;
  auto* set_pin_cmd = app.add_subcommand("set-pin", "set or change the PIN (backup and Registration Lock)");
  set_pin_cmd->add_option("pin", pin, "4 to 64 characters")->required();
  set_pin_cmd->callback([&] { command = [&] { return run_set_pin(global, pin); }; });

  LinkOptions link;
  auto* link_cmd = app.add_subcommand("link", "link this device to an account: shows a QR code for the primary");
  link_cmd->add_option("--name", link.name, "this device's name (stored encrypted)");
  link_cmd->add_option("--timeout", link.timeout_seconds, "seconds to wait for the primary")->capture_default_str();
  link_cmd->add_flag("--force", link.force, "replace an account held in this store");
  link_cmd->callback([&] { command = [&] { return run_link(global, link); }; });

  std::string url;
  auto* add_cmd = app.add_subcommand("add-device", "on the primary: send the account to a device being linked");
  add_cmd->add_option("url", url, "the latchkey://link?... URL shown by `latchkey link`")->required();
  add_cmd->callback([&] { command = [&] { return run_add_device(global, url); }; });

  app.add_subcommand("devices", "list this account's devices")->callback([&] {
    command = [&] { return run_devices(global); };
  });

  int device_id = 0;
  auto* remove_cmd = app.add_subcommand("remove-device", "remove a linked device (or this one)");
  remove_cmd->add_option("id", device_id, "device id")->required()->check(CLI::Range(1, 1000));
  remove_cmd->callback([&] { command = [&] { return run_remove_device(global, device_id); }; });

  app.add_subcommand("whoami", "show this device's account")->callback([&] {
    command = [&] { return run_whoami(global); };
  });

  std::string recipient, text;
  auto* send_cmd = app.add_subcommand("send", "send an end-to-end encrypted message");
  send_cmd->add_option("recipient", recipient, "+NUMBER or account uuid")->required();
  send_cmd->add_option("text", text, "the message")->required();
  send_cmd->callback([&] { command = [&] { return run_send(global, recipient, text); }; });

  ReceiveOptions receive;
  auto* receive_cmd = app.add_subcommand("receive", "print waiting messages (and acknowledge them)");
  receive_cmd->add_option("--timeout", receive.timeout_seconds,
                          "seconds to wait for the queue to drain; with --follow, idle seconds before exiting (0: never)")
      ->capture_default_str();
  receive_cmd->add_flag("--follow", receive.follow, "keep listening after the queue is drained");
  receive_cmd->callback([&] { command = [&] { return run_receive(global, receive); }; });

  auto* safety_cmd = app.add_subcommand("safety-number", "show the safety number with a contact");
  safety_cmd->add_option("contact", recipient, "+NUMBER or account uuid")->required();
  safety_cmd->callback([&] { command = [&] { return run_safety_number(global, recipient); }; });

  auto* trust_cmd = app.add_subcommand("trust", "accept a contact's changed safety number after checking it");
  trust_cmd->add_option("contact", recipient, "+NUMBER or account uuid")->required();
  trust_cmd->callback([&] { command = [&] { return run_trust(global, recipient); }; });

  auto* chat_cmd = app.add_subcommand("chat", "interactive conversation: type lines to send, see replies live");
  chat_cmd->add_option("contact", recipient, "+NUMBER or account uuid")->required();
  chat_cmd->callback([&] { command = [&] { return run_chat(global, recipient); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!command) return kExitUsage;
  auto result = command();
  if (!result.ok()) return report(result.error());
  return *result;
}
