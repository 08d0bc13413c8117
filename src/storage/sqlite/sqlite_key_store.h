// KeyStore on a SqliteDatabase: the identity key is a column of accounts; signed prekeys and one-time prekeys
// are rows keyed by device, removed with their device by ON DELETE CASCADE.
#pragma once

#include "storage/key_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe. store() and take_bundles() are write closures (durable when they answer).
class SqliteKeyStore final : public KeyStore {
 public:
  explicit SqliteKeyStore(SqliteDatabase& database) : database_(database) {}

  Status store(const std::string& uuid, std::uint32_t device_id, const KeyUpload& upload,
               std::size_t max_stored) override;
  Result<std::size_t> count_prekeys(const std::string& uuid, std::uint32_t device_id) override;
  Result<AccountBundles> take_bundles(const std::string& uuid, std::optional<std::uint32_t> device_id) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
