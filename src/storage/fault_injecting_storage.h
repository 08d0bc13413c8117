// A Storage wrapper for tests that fails chosen operations with kUnavailable, so domain code can be checked
// under storage failure without breaking a real backend.
#pragma once

#include <memory>
#include <mutex>

#include "storage/storage.h"

namespace latchkey {

// Forwards every call to the wrapped Storage unless a planned fault applies; a failed call never reaches the
// backend (nothing is written). Writes are: VerificationSessionStore::insert, update, delete_expired;
// AccountStore::create_or_replace, touch_device, set_registration_lock, put_link_code, link_device,
// remove_device, delete_account; BackupStore::put,
// expose, attempt_restore, erase; NoticeStore::add, delete_older_than; EncryptedStorageStore::put_manifest,
// put_items, delete_items. Every other store call is a read.
// Thread-safe: the stores and the fault controls may be used from any threads at once.
class FaultInjectingStorage final : public Storage {
 public:
  // Takes ownership of `inner`, which must not be null.
  explicit FaultInjectingStorage(std::unique_ptr<Storage> inner);
  ~FaultInjectingStorage() override;

  VerificationSessionStore& sessions() override;
  AccountStore& accounts() override;
  BackupStore& backups() override;
  NoticeStore& notices() override;
  EncryptedStorageStore& encrypted_storage() override;
  // Takeover attempts are passed through without injected faults.
  TakeoverStore& takeovers() override { return inner_->takeovers(); }
  // Keys and queued messages are passed through without injected faults.
  KeyStore& keys() override { return inner_->keys(); }
  MessageStore& messages() override { return inner_->messages(); }
  StaffStore& staff() override { return inner_->staff(); }
  // Audit entries are passed through without injected faults.
  AuditStore& audit() override { return inner_->audit(); }
  AlertQueries& alert_queries() override { return inner_->alert_queries(); }
  IncidentStore& incidents() override { return inner_->incidents(); }
  Status check_health() override;  // kUnavailable while reads fail, else the backend's answer
  void close() override;

  // The `n`th write from now on fails (1: the very next one), once; the writes before and after it pass.
  // Replaces an earlier plan made by this function; n <= 0 cancels it.
  void fail_nth_write(int n);

  // While on, every write fails.
  void fail_all_writes(bool on);

  // While on, every read (and check_health) fails.
  void fail_all_reads(bool on);

  // Cancels every planned fault.
  void clear_faults();

  // Writes attempted through the wrapper, and how many of them were failed by it.
  int writes_attempted() const;
  int writes_failed() const;

  Storage& inner() { return *inner_; }

 private:
  class SessionStore;
  class AccountStoreWrapper;
  class BackupStoreWrapper;
  class NoticeStoreWrapper;
  class EncryptedStorageStoreWrapper;

  // Counts a write and answers the injected error, or ok to forward it.
  Status admit_write();
  // Answers the injected error for a read, or ok to forward it.
  Status admit_read();

  std::unique_ptr<Storage> inner_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<AccountStoreWrapper> accounts_;
  std::unique_ptr<BackupStoreWrapper> backups_;
  std::unique_ptr<NoticeStoreWrapper> notices_;
  std::unique_ptr<EncryptedStorageStoreWrapper> encrypted_storage_;

  mutable std::mutex mutex_;
  int writes_until_failure_ = 0;  // 0: none planned; guarded by mutex_
  bool fail_all_writes_ = false;  // guarded by mutex_
  bool fail_all_reads_ = false;   // guarded by mutex_
  int writes_attempted_ = 0;      // guarded by mutex_
  int writes_failed_ = 0;         // guarded by mutex_
};

}  // namespace latchkey
