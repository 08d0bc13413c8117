// `latchkeyd audit ...`: checking and checkpointing the audit log from the server host (docs/operations.md,
// "Audit log"). Both may run while the server runs.
#pragma once

#include <string>

#include "core/config.h"

namespace latchkey {

// Exit codes of `audit verify`.
constexpr int kAuditIntact = 0;       // every entry and checkpoint checked out
constexpr int kAuditTampered = 1;     // the log or the checkpoint file was altered: "first bad sequence: N: reason"
constexpr int kAuditCannotVerify = 2; // no database, no key, unreadable files: nothing was concluded

// `audit verify [--public-key HEX] [--checkpoints FILE]`: re-hashes the whole log and checks every checkpoint.
// The public key defaults to the one derived from audit.signing_key_file (which is never created here), the
// checkpoint file to audit.checkpoint_file; pass copies kept off the host to verify against them.
int run_audit_verify(const Config& config, const std::string& public_key_hex, const std::string& checkpoint_file);

// `audit checkpoint`: signs the current head into audit.checkpoint_file now (creating the signing key on first
// use, as the server does). Exit 0 also when nothing was new; 1 on failure with the reason on stderr.
int run_audit_checkpoint(const Config& config);

}  // namespace latchkey
