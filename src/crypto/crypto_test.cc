#include <gtest/gtest.h>

#include "crypto/proof_of_work.h"
#include "crypto/random.h"
#include "crypto/secret_hash.h"

namespace latchkey {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(initialize_crypto()); }
  SodiumRandom random_;
};

TEST_F(CryptoTest, UuidIsVersion4) {
  std::string u = new_uuid(random_);
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
  EXPECT_NE(new_uuid(random_), u);
}

TEST_F(CryptoTest, RandomDigitsAreDigits) {
  for (int i = 0; i < 100; ++i) {
    std::string d = random_digits(random_, 6);
    ASSERT_EQ(d.size(), 6u);
    for (char ch : d) EXPECT_TRUE(ch >= '0' && ch <= '9');
  }
}

TEST_F(CryptoTest, PasswordRecordsVerifyOnlyTheirPassword) {
  std::string record = hash_password(random_, "correct horse battery staple");
  EXPECT_TRUE(verify_password(record, "correct horse battery staple"));
  EXPECT_FALSE(verify_password(record, "correct horse battery stapl"));
  EXPECT_FALSE(verify_password(record.substr(1), "correct horse battery staple"));
  EXPECT_NE(hash_password(random_, "same password here"), hash_password(random_, "same password here"));  // salted
  EXPECT_EQ(record.find("correct"), std::string::npos);
}

TEST_F(CryptoTest, HkdfMatchesRfc5869TestCase1) {
  std::string ikm(22, '\x0b');
  std::string salt = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";
  salt = std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 13);
  std::string info("\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", 10);
  std::string okm = hkdf_sha256(ikm, salt, info);
  const unsigned char expected[] = {0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f,
                                    0x64, 0xd0, 0x36, 0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a,
                                    0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56, 0xec, 0xc4, 0xc5, 0xbf};
  EXPECT_EQ(okm, std::string(reinterpret_cast<const char*>(expected), 32));
}

TEST_F(CryptoTest, KeyedHashBindsContextAndKey) {
  std::string key(32, 'k');
  EXPECT_EQ(keyed_hash(key, "s1", "123456"), keyed_hash(key, "s1", "123456"));
  EXPECT_NE(keyed_hash(key, "s1", "123456"), keyed_hash(key, "s2", "123456"));
  EXPECT_NE(keyed_hash(key, "s1", "123456"), keyed_hash(std::string(32, 'j'), "s1", "123456"));
}

TEST_F(CryptoTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST_F(CryptoTest, ProofOfWorkSolvesAndChecks) {
  std::string challenge = random_bytes(random_, 16);
  auto nonce = solve_proof_of_work(challenge, 10);
  ASSERT_TRUE(nonce);
  EXPECT_TRUE(proof_of_work_valid(challenge, *nonce, 10));
  EXPECT_GE(proof_of_work_zero_bits(challenge, *nonce), 10);
  EXPECT_FALSE(proof_of_work_valid(challenge, "12a", 0));
  EXPECT_FALSE(proof_of_work_valid(challenge, "", 0));
  EXPECT_FALSE(proof_of_work_valid(challenge, "123456789012345678901", 0));
  EXPECT_TRUE(proof_of_work_valid(challenge, "7", 0));
  // A nonce that does not meet 24 bits (overwhelmingly likely for "0" unless it happens to solve it).
  if (proof_of_work_zero_bits(challenge, "0") < 24) {
    EXPECT_FALSE(proof_of_work_valid(challenge, "0", 24));
  }
}

}  // namespace
}  // namespace latchkey
