#include "client/pin/pin_backup.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace latchkey::client {
namespace {

class PinBackupTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(PinBackupTest, StretchingIsDeterministicPerPinAndSalt) {
  std::string salt = pin_salt("65ae42d9-c2d8-4e01-a14a-aa7571d3fd5c");
  EXPECT_EQ(salt.size(), 16u);
  auto a = stretch_pin("1234", salt);
  auto b = stretch_pin("1234", salt);
  auto c = stretch_pin("1235", salt);
  auto d = stretch_pin("1234", pin_salt("another-uuid"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->access_key, b->access_key);
  EXPECT_EQ(a->encryption_key, b->encryption_key);
  EXPECT_EQ(a->access_key.size(), 32u);
  EXPECT_NE(a->access_key, a->encryption_key);
  EXPECT_NE(a->access_key, c->access_key);
  EXPECT_NE(a->access_key, d->access_key);
}

TEST_F(PinBackupTest, MasterKeyRoundTripsAndFitsTheServerLimit) {
  auto pin = stretch_pin("correct horse", pin_salt("u"));
  ASSERT_TRUE(pin.ok());
  std::string master(32, '\0');
  randombytes_buf(master.data(), master.size());
  std::string data = encrypt_master_key(*pin, master);
  EXPECT_EQ(data.size(), kBackupDataBytes);
  EXPECT_EQ(data.find(master), std::string::npos);
  EXPECT_NE(encrypt_master_key(*pin, master), data);  // fresh nonce each time
  auto back = decrypt_master_key(*pin, data);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, master);
  EXPECT_FALSE(decrypt_master_key(*pin, data.substr(1)).ok());
}

TEST_F(PinBackupTest, RegistrationLockTokenIs64HexCharacters) {
  std::string token = registration_lock_token(std::string(32, 'k'));
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(token, registration_lock_token(std::string(32, 'k')));
  EXPECT_NE(token, registration_lock_token(std::string(32, 'j')));
}

TEST_F(PinBackupTest, PinRulesAndBackupUsernames) {
  EXPECT_TRUE(check_pin("1234").ok());
  EXPECT_FALSE(check_pin("123").ok());
  EXPECT_FALSE(check_pin(" 1234").ok());
  EXPECT_EQ(uuid_from_backup_username("backup-abc"), "abc");
  EXPECT_EQ(uuid_from_backup_username("abc"), "");
}

}  // namespace
}  // namespace latchkey::client
