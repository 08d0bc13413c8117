#include "client/store/local_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace latchkey::client {
namespace {

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("latchkey-store-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto store = LocalStore::open((dir_ / "sub" / "store.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, NoAccountUntilSaved) {
  auto account = store_->account();
  ASSERT_TRUE(account.ok());
  EXPECT_FALSE(account->has_value());
  Account a;
  a.server = "http://127.0.0.1:8080";
  a.uuid = "65ae42d9-c2d8-4e01-a14a-aa7571d3fd5c";
  a.number = "+33612345678";
  a.device_id = 2;
  a.password = "secret-password-123";
  a.registration_id = 4711;
  a.identity_public = std::string("\x05", 1) + std::string(32, '\0');  // binary with NULs survives
  a.identity_private = std::string(32, '\x01');
  ASSERT_TRUE(store_->save_account(a).ok());
  account = store_->account();
  ASSERT_TRUE(account.ok() && account->has_value());
  EXPECT_EQ((*account)->username(), a.uuid + ".2");
  EXPECT_EQ((*account)->identity_public, a.identity_public);
  EXPECT_EQ((*account)->registration_id, 4711u);
  EXPECT_TRUE((*account)->master_key.empty());
}

TEST_F(LocalStoreTest, SessionsPerDeviceAndResetKeepsContactsIdentities) {
  ASSERT_TRUE(store_->store_session("bob", 1, std::string("r1\0x", 4)).ok());
  ASSERT_TRUE(store_->store_session("bob", 3, "r3").ok());
  ASSERT_TRUE(store_->store_session("carol", 1, "c1").ok());
  auto devices = store_->session_devices("bob");
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(*devices, (std::vector<int>{1, 3}));
  auto record = store_->load_session("bob", 1);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ(**record, std::string("r1\0x", 4));
  ASSERT_TRUE(store_->delete_session("bob", 1).ok());
  EXPECT_FALSE(*store_->contains_session("bob", 1));
  ASSERT_TRUE(store_->delete_all_sessions("bob").ok());
  EXPECT_TRUE(store_->session_devices("bob")->empty());

  ASSERT_TRUE(store_->save_identity("carol", "key-1", 1000).ok());
  ASSERT_TRUE(store_->store_prekey(5, "pk").ok());
  ASSERT_TRUE(store_->reset_device_state().ok());
  EXPECT_FALSE(store_->load_session("carol", 1)->has_value());
  EXPECT_FALSE(store_->load_prekey(5)->has_value());
  auto identity = store_->identity("carol");
  ASSERT_TRUE(identity.ok() && identity->has_value());
  EXPECT_EQ((*identity)->key, "key-1");
}

TEST_F(LocalStoreTest, IdentityChangesAreMarkedUntilAccepted) {
  EXPECT_FALSE(*store_->save_identity("bob", "key-1", 1000));
  EXPECT_FALSE(*store_->save_identity("bob", "key-1", 2000));
  EXPECT_TRUE(store_->changed_identities()->empty());
  EXPECT_TRUE(*store_->save_identity("bob", "key-2", 3000));
  auto changed = store_->changed_identities();
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ((*changed)[0].uuid, "bob");
  EXPECT_EQ((*changed)[0].changed_ms, 3000);
  EXPECT_EQ((*changed)[0].first_seen_ms, 1000);
  ASSERT_TRUE(store_->accept_identity("bob").ok());
  EXPECT_TRUE(store_->changed_identities()->empty());
}

TEST_F(LocalStoreTest, ContactsAndSettings) {
  EXPECT_FALSE(store_->uuid_for_number("+33612345678")->has_value());
  ASSERT_TRUE(store_->save_contact("+33612345678", "u1").ok());
  ASSERT_TRUE(store_->save_contact("+33612345678", "u2").ok());
  EXPECT_EQ(**store_->uuid_for_number("+33612345678"), "u2");
  EXPECT_EQ(**store_->number_for_uuid("u2"), "+33612345678");
  ASSERT_TRUE(store_->set_setting("x", "1").ok());
  EXPECT_EQ(**store_->setting("x"), "1");
  ASSERT_TRUE(store_->delete_setting("x").ok());
  EXPECT_FALSE(store_->setting("x")->has_value());
}

TEST_F(LocalStoreTest, ExistingWorldReadableFileIsTightened) {
  std::string path = (dir_ / "loose.db").string();
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  ::chmod(path.c_str(), 0644);
  auto store = LocalStore::open(path);
  ASSERT_TRUE(store.ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace latchkey::client
