#include "storage/storage.h"

#include "storage/sqlite/sqlite_storage.h"

namespace latchkey {

Result<std::unique_ptr<Storage>> open_storage(const StorageConfig& config, MetricsRegistry* metrics) {
  if (config.backend == "sqlite") {
    auto storage = SqliteStorage::open(config, metrics);
    if (!storage.ok()) return storage.take_error();
    return std::unique_ptr<Storage>(std::move(storage).value());
  }
  if (config.backend == "postgres") {
    return make_error(ErrorCode::kInternal, "postgres backend is not available in this build yet");
  }
  return make_error(ErrorCode::kInternal, "storage.backend \"" + config.backend +
                                              "\" is unknown (expected \"sqlite\" or \"postgres\")");
}

}  // namespace latchkey
