// The subcommands of `latchkey`. Each answers the process exit code (core/exit_codes.h) or an Error that
// main() reports. Output: human text on stdout (one JSON object per line with --json), prompts and warnings
// on stderr. No command prints a key, a password or a PIN.
#pragma once

#include <optional>
#include <string>

#include "client/commands/device.h"
#include "client/core/result.h"

namespace latchkey::client {

struct RegisterOptions {
  std::string number;
  std::optional<std::string> pin;  // set up Registration Lock + backup; also unlocks a locked number
  std::string name;                // device name, stored encrypted
  bool force = false;              // the store belongs to another number: replace it
};
Result<int> run_register(const GlobalOptions& global, const RegisterOptions& options);

// Sets (or changes) the PIN of a registered primary device: backup + Registration Lock.
Result<int> run_set_pin(const GlobalOptions& global, const std::string& pin);

struct LinkOptions {
  std::string name;
  int timeout_seconds = 600;
  bool force = false;
};
Result<int> run_link(const GlobalOptions& global, const LinkOptions& options);
Result<int> run_add_device(const GlobalOptions& global, const std::string& url);
Result<int> run_devices(const GlobalOptions& global);
Result<int> run_remove_device(const GlobalOptions& global, int device_id);
Result<int> run_whoami(const GlobalOptions& global);

Result<int> run_send(const GlobalOptions& global, const std::string& recipient, const std::string& text);

struct ReceiveOptions {
  double timeout_seconds = 30;  // overall limit when not following; idle limit with --follow (0: none)
  bool follow = false;
};
Result<int> run_receive(const GlobalOptions& global, const ReceiveOptions& options);

Result<int> run_safety_number(const GlobalOptions& global, const std::string& recipient);
Result<int> run_trust(const GlobalOptions& global, const std::string& recipient);

// Interactive: sends the lines typed on stdin, prints messages as they arrive.
Result<int> run_chat(const GlobalOptions& global, const std::string& recipient);


}  // namespace latchkey::client
