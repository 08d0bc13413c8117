// The composition root: builds every component from the configuration, wires them with explicit
// constructors, and runs the server. Nothing else in the program creates long-lived components.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/error.h"

namespace latchkey {

class Application {
 public:
  explicit Application(Config config);
  ~Application();

  // Opens storage, builds providers, binds the listener. Errors name the failing piece.
  Status start();
  // Serves until SIGTERM/SIGINT, then shuts down gracefully and closes storage. Returns the exit code.
  int run();

 private:
  struct Components;
  Config config_;
  std::unique_ptr<Components> components_;
};

// The 32-byte key for code hashes: verification.code_hash_key if set, else the one in data_dir/secret.key,
// generated there (mode 0600) on first start.
Result<std::string> load_or_create_code_hash_key(const Config& config);

}  // namespace latchkey
