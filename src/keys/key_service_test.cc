#include "keys/key_service.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "crypto/random.h"
#include "keys/signal_identity_test_util.h"
#include "keys/xeddsa.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

using testing_util::SignalTestContext;
using testing_util::TestIdentityKey;

constexpr char kNumber[] = "+33611111111";

class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("keys");
    storage_ = open_test_storage(dir_);
    ASSERT_TRUE(storage_);
    config_.max_prekeys_per_upload = 4;
    config_.max_stored_prekeys = 6;
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    keys_ = std::make_unique<KeyService>(config_, *storage_, *limits_, clock_);
    uuid_ = create(kNumber);
    ASSERT_TRUE(storage_->accounts().put_link_code(uuid_, "code", clock_.now_ms() + 60'000).ok());
    Device linked;
    linked.password_hash = "h";
    linked.registration_id = 2;
    ASSERT_TRUE(storage_->accounts().link_device("code", linked, 5, clock_.now_ms()).ok());
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }

  std::string create(const std::string& number) {
    Device primary;
    primary.password_hash = "h";
    primary.registration_id = 1;
    auto record = storage_->accounts().create_or_replace(number, new_uuid(random_), primary, clock_.now_ms());
    EXPECT_TRUE(record.ok()) << record.error().message;
    return record.ok() ? record->account.uuid : "";
  }

  // A well-formed upload signed by `identity`, with `count` prekeys numbered from `first_id`.
  KeyUpload signed_upload(const TestIdentityKey& identity, std::uint32_t first_id = 1, int count = 2) {
    KeyUpload upload;
    upload.identity_key = identity.public_key();
    TestIdentityKey signed_prekey(context_);
    std::string prekey_public = signed_prekey.public_key();
    upload.signed_prekey = SignedPreKey{first_id + 100, prekey_public, identity.sign(prekey_public)};
    for (int i = 0; i < count; ++i) {
      TestIdentityKey one_time(context_);
      upload.prekeys.push_back(PreKey{first_id + i, one_time.public_key()});
    }
    return upload;
  }

  std::size_t prekeys(std::uint32_t device_id) {
    auto n = keys_->prekey_count(uuid_, device_id);
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : 9999;
  }

  void expect_malformed(const Status& status, const std::string& field) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, ErrorCode::kMalformedRequest) << status.error().message;
    EXPECT_NE(status.error().message.find(field), std::string::npos) << status.error().message;
  }

  SignalTestContext context_;
  TestIdentityKey identity_{context_};
  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  KeysConfig config_;
  LimitsConfig limits_config_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<KeyService> keys_;
  std::string uuid_;
};

TEST_F(KeyServiceTest, AProperlySignedUploadIsStoredAndHandedOut) {
  KeyUpload upload = signed_upload(identity_);
  Status stored = keys_->upload(uuid_, 1, upload);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(prekeys(1), 2u);

  auto bundles = keys_->bundles(uuid_, uuid_, 1);
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  EXPECT_EQ(bundles->identity_key, identity_.public_key());
  ASSERT_EQ(bundles->devices.size(), 1u);
  EXPECT_EQ(bundles->devices[0].signed_prekey.signature, upload.signed_prekey->signature);
  EXPECT_TRUE(verify_xeddsa(bundles->identity_key, bundles->devices[0].signed_prekey.public_key,
                            bundles->devices[0].signed_prekey.signature));
  ASSERT_TRUE(bundles->devices[0].prekey.has_value());
  EXPECT_EQ(bundles->devices[0].prekey->public_key, upload.prekeys[0].public_key);
  EXPECT_EQ(prekeys(1), 1u);
}

TEST_F(KeyServiceTest, ABadSignatureIsRefusedAndNothingIsStored) {
  KeyUpload upload = signed_upload(identity_);
  upload.signed_prekey->signature[10] = static_cast<char>(upload.signed_prekey->signature[10] ^ 0x01);
  expect_malformed(keys_->upload(uuid_, 1, upload), "signedPreKey.signature");
  EXPECT_EQ(prekeys(1), 0u);
  auto bundles = keys_->bundles(uuid_, uuid_, std::nullopt);
  ASSERT_FALSE(bundles.ok());
  EXPECT_EQ(bundles.error().code, ErrorCode::kNotFound);
}

TEST_F(KeyServiceTest, ASignatureOverAnotherKeyOrByAnotherIdentityIsRefused) {
  KeyUpload swapped = signed_upload(identity_);
  TestIdentityKey other_prekey(context_);
  swapped.signed_prekey->public_key = other_prekey.public_key();  // signature was over the original
  expect_malformed(keys_->upload(uuid_, 1, swapped), "signedPreKey.signature");

  TestIdentityKey stranger(context_);
  KeyUpload foreign = signed_upload(identity_);
  foreign.signed_prekey->signature = stranger.sign(foreign.signed_prekey->public_key);
  expect_malformed(keys_->upload(uuid_, 1, foreign), "signedPreKey.signature");
  EXPECT_EQ(prekeys(1), 0u);
}

TEST_F(KeyServiceTest, KeysOfTheWrongShapeAreRefused) {
  KeyUpload upload = signed_upload(identity_);
  upload.signed_prekey->signature.pop_back();
  expect_malformed(keys_->upload(uuid_, 1, upload), "signedPreKey.signature");

  upload = signed_upload(identity_);
  upload.identity_key = upload.identity_key.substr(1);
  expect_malformed(keys_->upload(uuid_, 1, upload), "identityKey");

  upload = signed_upload(identity_);
  upload.identity_key[0] = 0x06;
  expect_malformed(keys_->upload(uuid_, 1, upload), "identityKey");

  upload = signed_upload(identity_);
  upload.signed_prekey->public_key += 'x';
  expect_malformed(keys_->upload(uuid_, 1, upload), "signedPreKey.publicKey");

  upload = signed_upload(identity_);
  upload.prekeys[1].public_key[0] = 0x00;
  expect_malformed(keys_->upload(uuid_, 1, upload), "preKeys[1].publicKey");

  upload = signed_upload(identity_, 1, 5);  // more than max_prekeys_per_upload
  expect_malformed(keys_->upload(uuid_, 1, upload), "preKeys");
  EXPECT_EQ(prekeys(1), 0u);
}

TEST_F(KeyServiceTest, UploadsWithoutASignedPreKeyAddPreKeysOnly) {
  ASSERT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_, 1, 2)).ok());
  KeyUpload more = signed_upload(identity_, 10, 3);
  more.signed_prekey.reset();
  ASSERT_TRUE(keys_->upload(uuid_, 1, more).ok());
  EXPECT_EQ(prekeys(1), 5u);
  // The pool limit (6) counts what is stored, not only this upload.
  Status over = keys_->upload(uuid_, 1, signed_upload(identity_, 20, 2));
  expect_malformed(over, "preKeys");
  EXPECT_EQ(prekeys(1), 5u);
}

TEST_F(KeyServiceTest, OnlyThePrimarySetsTheIdentity) {
  Status early = keys_->upload(uuid_, 2, signed_upload(identity_));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_)).ok());
  EXPECT_TRUE(keys_->upload(uuid_, 2, signed_upload(identity_)).ok());
  TestIdentityKey other(context_);
  Status changed = keys_->upload(uuid_, 2, signed_upload(other));
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code, ErrorCode::kConflict);
}

TEST_F(KeyServiceTest, BundlesOfNobodyAreNotFoundAndOtherAccountsAreRateLimited) {
  limits_config_.prekey_lookup_per_requester = {2, std::chrono::hours(1)};
  limits_ = std::make_unique<Limits>(limits_config_, metrics_);
  keys_ = std::make_unique<KeyService>(config_, *storage_, *limits_, clock_);
  ASSERT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_, 1, 4)).ok());
  std::string other = create("+33622222222");

  auto missing = keys_->bundles(other, uuid_, 7);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(keys_->bundles(other, uuid_, std::nullopt).ok());
  auto limited = keys_->bundles(other, uuid_, std::nullopt);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(prekeys(1), 3u);  // the refused lookup took nothing
  // Looking up one's own account is not limited.
  EXPECT_TRUE(keys_->bundles(uuid_, uuid_, 1).ok());
  EXPECT_TRUE(keys_->bundles(uuid_, uuid_, 1).ok());
  EXPECT_EQ(prekeys(1), 1u);
}

TEST_F(KeyServiceTest, UploadsAreRateLimitedPerDevice) {
  limits_config_.keys_upload_per_device = {2, std::chrono::hours(1)};
  limits_ = std::make_unique<Limits>(limits_config_, metrics_);
  keys_ = std::make_unique<KeyService>(config_, *storage_, *limits_, clock_);
  EXPECT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_, 1, 1)).ok());
  EXPECT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_, 2, 1)).ok());
  Status limited = keys_->upload(uuid_, 1, signed_upload(identity_, 3, 1));
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  EXPECT_TRUE(keys_->upload(uuid_, 2, signed_upload(identity_, 3, 1)).ok());
}

// Every signed prekey handed out must verify against the identity key handed out with it: a client that
// fetches a bundle whose signature does not verify cannot start a session. Changing the identity removes the
// other devices' keys for that reason, but the primary's own signed prekey (signed by the old identity) is
// kept when the identity-changing upload carries no signed prekey. DISABLED: fails today (see
// SqliteKeyStore::store, which deletes only the other devices' signed prekeys).
TEST_F(KeyServiceTest, ChangingTheIdentityLeavesNoSignedPreKeyOfTheOldOne) {
  ASSERT_TRUE(keys_->upload(uuid_, 1, signed_upload(identity_, 1, 2)).ok());
  TestIdentityKey replacement(context_);
  KeyUpload change = signed_upload(replacement, 10, 1);
  change.signed_prekey.reset();
  Status changed = keys_->upload(uuid_, 1, change);
  if (!changed.ok()) {
    // Refusing an identity change without a new signed prekey is an acceptable answer too.
    EXPECT_EQ(changed.error().code, ErrorCode::kMalformedRequest) << changed.error().message;
    return;
  }
  auto bundles = keys_->bundles(uuid_, uuid_, std::nullopt);
  if (!bundles.ok()) {
    EXPECT_EQ(bundles.error().code, ErrorCode::kNotFound);
    return;
  }
  EXPECT_EQ(bundles->identity_key, replacement.public_key());
  for (const DeviceBundle& bundle : bundles->devices)
    EXPECT_TRUE(verify_xeddsa(bundles->identity_key, bundle.signed_prekey.public_key, bundle.signed_prekey.signature))
        << "device " << bundle.device_id << " is handed out with a signed prekey of the previous identity";
}

}  // namespace
}  // namespace latchkey
