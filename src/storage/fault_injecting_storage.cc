#include "storage/fault_injecting_storage.h"

#include <utility>

namespace latchkey {
namespace {

Error injected_write_failure() {
  return make_error(ErrorCode::kUnavailable, "injected storage write failure");
}
Error injected_read_failure() { return make_error(ErrorCode::kUnavailable, "injected storage read failure"); }

}  // namespace

class FaultInjectingStorage::SessionStore final : public VerificationSessionStore {
 public:
  SessionStore(FaultInjectingStorage& owner, VerificationSessionStore& inner)
      : owner_(owner), inner_(inner) {}

  Status insert(const VerificationSession& session) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.insert(session);
  }
  Result<std::optional<VerificationSession>> find(const std::string& id) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find(id);
  }
  Status update(const VerificationSession& session) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.update(session);
  }
  Result<int> delete_expired(EpochMillis now, int limit) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.delete_expired(now, limit);
  }
  Result<int> invalidate_by_provider(const std::string& provider, EpochMillis now) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.invalidate_by_provider(provider, now);
  }

 private:
  FaultInjectingStorage& owner_;
  VerificationSessionStore& inner_;
};

class FaultInjectingStorage::AccountStoreWrapper final : public AccountStore {
 public:
  AccountStoreWrapper(FaultInjectingStorage& owner, AccountStore& inner) : owner_(owner), inner_(inner) {}

  Result<RegistrationRecord> create_or_replace(const std::string& number, const std::string& new_uuid,
                                               const Device& primary, EpochMillis now,
                                               const std::string& code_provider = "") override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.create_or_replace(number, new_uuid, primary, now, code_provider);
  }
  Result<std::optional<Account>> find_by_uuid(const std::string& uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find_by_uuid(uuid);
  }
  Result<std::optional<Account>> find_by_number(const std::string& number) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find_by_number(number);
  }
  Result<std::optional<Device>> find_device(const std::string& uuid, std::uint32_t device_id) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find_device(uuid, device_id);
  }
  Status touch_device(const std::string& uuid, std::uint32_t device_id, EpochMillis now) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.touch_device(uuid, device_id, now);
  }
  Status set_recovery_password(const std::string& uuid, const std::string& record) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.set_recovery_password(uuid, record);
  }
  Status set_registration_lock(const std::string& uuid, const std::string& record) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.set_registration_lock(uuid, record);
  }
  Status put_link_code(const std::string& uuid, const std::string& code_hash, EpochMillis expires_at) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.put_link_code(uuid, code_hash, expires_at);
  }
  Result<LinkedDevice> link_device(const std::string& code_hash, const Device& device, int max_linked,
                                   EpochMillis now) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.link_device(code_hash, device, max_linked, now);
  }
  Status remove_device(const std::string& uuid, std::uint32_t device_id) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.remove_device(uuid, device_id);
  }
  Status delete_account(const std::string& uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.delete_account(uuid);
  }

 private:
  FaultInjectingStorage& owner_;
  AccountStore& inner_;
};

class FaultInjectingStorage::BackupStoreWrapper final : public BackupStore {
 public:
  BackupStoreWrapper(FaultInjectingStorage& owner, BackupStore& inner) : owner_(owner), inner_(inner) {}

  Status put(const Backup& backup) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.put(backup);
  }
  Result<std::optional<Backup>> find(const std::string& account_uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find(account_uuid);
  }
  Status expose(const std::string& account_uuid, const std::string& data) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.expose(account_uuid, data);
  }
  Result<RestoreAttempt> attempt_restore(const std::string& account_uuid,
                                         const std::function<bool(const std::string&)>& matches) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.attempt_restore(account_uuid, matches);
  }
  Status erase(const std::string& account_uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.erase(account_uuid);
  }

 private:
  FaultInjectingStorage& owner_;
  BackupStore& inner_;
};

class FaultInjectingStorage::NoticeStoreWrapper final : public NoticeStore {
 public:
  NoticeStoreWrapper(FaultInjectingStorage& owner, NoticeStore& inner) : owner_(owner), inner_(inner) {}

  Result<std::int64_t> add(const std::string& account_uuid, const std::string& kind,
                           const std::string& details_json, EpochMillis now) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.add(account_uuid, kind, details_json, now);
  }
  Result<std::vector<Notice>> list(const std::string& account_uuid, std::int64_t after_id, int limit) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.list(account_uuid, after_id, limit);
  }
  Result<int> delete_older_than(EpochMillis before, int limit) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.delete_older_than(before, limit);
  }

 private:
  FaultInjectingStorage& owner_;
  NoticeStore& inner_;
};

class FaultInjectingStorage::EncryptedStorageStoreWrapper final : public EncryptedStorageStore {
 public:
  EncryptedStorageStoreWrapper(FaultInjectingStorage& owner, EncryptedStorageStore& inner)
      : owner_(owner), inner_(inner) {}

  Result<std::optional<StorageManifest>> find_manifest(const std::string& account_uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find_manifest(account_uuid);
  }
  Result<ManifestWrite> put_manifest(const std::string& account_uuid, const StorageManifest& manifest) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.put_manifest(account_uuid, manifest);
  }
  Status put_items(const std::string& account_uuid, const std::vector<StorageItem>& items,
                   std::int64_t max_items) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.put_items(account_uuid, items, max_items);
  }
  Result<std::vector<StorageItem>> find_items(const std::string& account_uuid,
                                              const std::vector<std::string>& keys) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.find_items(account_uuid, keys);
  }
  Result<int> delete_items(const std::string& account_uuid, const std::vector<std::string>& keys) override {
    LK_RETURN_IF_ERROR(owner_.admit_write());
    return inner_.delete_items(account_uuid, keys);
  }
  Result<std::int64_t> count_items(const std::string& account_uuid) override {
    LK_RETURN_IF_ERROR(owner_.admit_read());
    return inner_.count_items(account_uuid);
  }

 private:
  FaultInjectingStorage& owner_;
  EncryptedStorageStore& inner_;
};

FaultInjectingStorage::FaultInjectingStorage(std::unique_ptr<Storage> inner)
    : inner_(std::move(inner)),
      sessions_(std::make_unique<SessionStore>(*this, inner_->sessions())),
      accounts_(std::make_unique<AccountStoreWrapper>(*this, inner_->accounts())),
      backups_(std::make_unique<BackupStoreWrapper>(*this, inner_->backups())),
      notices_(std::make_unique<NoticeStoreWrapper>(*this, inner_->notices())),
      encrypted_storage_(std::make_unique<EncryptedStorageStoreWrapper>(*this, inner_->encrypted_storage())) {}

FaultInjectingStorage::~FaultInjectingStorage() = default;

VerificationSessionStore& FaultInjectingStorage::sessions() { return *sessions_; }
AccountStore& FaultInjectingStorage::accounts() { return *accounts_; }
BackupStore& FaultInjectingStorage::backups() { return *backups_; }
NoticeStore& FaultInjectingStorage::notices() { return *notices_; }
EncryptedStorageStore& FaultInjectingStorage::encrypted_storage() { return *encrypted_storage_; }

Status FaultInjectingStorage::check_health() {
  LK_RETURN_IF_ERROR(admit_read());
  return inner_->check_health();
}

void FaultInjectingStorage::close() { inner_->close(); }

void FaultInjectingStorage::fail_nth_write(int n) {
  std::lock_guard lock(mutex_);
  writes_until_failure_ = n > 0 ? n : 0;
}

void FaultInjectingStorage::fail_all_writes(bool on) {
  std::lock_guard lock(mutex_);
  fail_all_writes_ = on;
}

void FaultInjectingStorage::fail_all_reads(bool on) {
  std::lock_guard lock(mutex_);
  fail_all_reads_ = on;
}

void FaultInjectingStorage::clear_faults() {
  std::lock_guard lock(mutex_);
  writes_until_failure_ = 0;
  fail_all_writes_ = false;
  fail_all_reads_ = false;
}

int FaultInjectingStorage::writes_attempted() const {
  std::lock_guard lock(mutex_);
  return writes_attempted_;
}

int FaultInjectingStorage::writes_failed() const {
  std::lock_guard lock(mutex_);
  return writes_failed_;
}

Status FaultInjectingStorage::admit_write() {
  std::lock_guard lock(mutex_);
  ++writes_attempted_;
  bool fail = fail_all_writes_;
  if (writes_until_failure_ > 0 && --writes_until_failure_ == 0) fail = true;
  if (!fail) return {};
  ++writes_failed_;
  return injected_write_failure();
}

Status FaultInjectingStorage::admit_read() {
  std::lock_guard lock(mutex_);
  if (fail_all_reads_) return injected_read_failure();
  return {};
}

}  // namespace latchkey
