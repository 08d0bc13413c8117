// The process exit codes of `latchkey` (documented in client/README.md). Scripts branch on them.
#pragma once

namespace latchkey::client {

enum ExitCode : int {
  kExitOk = 0,
  // Any failure not listed below (network, server error, store, crypto).
  kExitFailure = 1,
  // Bad command line or arguments.
  kExitUsage = 2,
  // The server says this device is no longer registered (401 or socket close 4401).
  kExitUnregistered = 3,
  // The command succeeded, but a contact's identity key (safety number) changed and was not yet accepted.
  kExitIdentityChanged = 4,
  // Registration is held by the takeover delay; run `register` again after the time printed.
  kExitPending = 5,
  // A wait ran out (link without a provisioning message, receive --timeout before the queue drained).
  kExitTimeout = 6,
};

}  // namespace latchkey::client
