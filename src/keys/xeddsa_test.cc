#include "keys/xeddsa.h"

#include <string>

#include <gtest/gtest.h>

#include "keys/signal_identity_test_util.h"

namespace latchkey {
namespace {

using testing_util::SignalTestContext;
using testing_util::TestIdentityKey;

std::string flip_bit(std::string bytes, std::size_t bit) {
  bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
  return bytes;
}

class XeddsaTest : public ::testing::Test {
 protected:
  SignalTestContext context_;
  TestIdentityKey identity_{context_};
  // What a client signs: its signed prekey's serialized public key (33 bytes).
  TestIdentityKey prekey_{context_};
  const std::string key_ = identity_.public_key();
  const std::string message_ = prekey_.public_key();
  const std::string signature_ = identity_.sign(message_);
};

TEST_F(XeddsaTest, GeneratedKeysHaveTheWireShape) {
  ASSERT_EQ(key_.size(), 33u);
  EXPECT_EQ(static_cast<unsigned char>(key_[0]), 0x05);
  EXPECT_EQ(signature_.size(), 64u);
}

TEST_F(XeddsaTest, AValidSignatureVerifies) {
  EXPECT_TRUE(verify_xeddsa(key_, message_, signature_));
  // Signatures are randomised: another one over the same message verifies too.
  std::string again = identity_.sign(message_);
  EXPECT_NE(again, signature_);
  EXPECT_TRUE(verify_xeddsa(key_, message_, again));
  // Any message, including an empty one.
  EXPECT_TRUE(verify_xeddsa(key_, "", identity_.sign("")));
  std::string long_message(5000, 'm');
  EXPECT_TRUE(verify_xeddsa(key_, long_message, identity_.sign(long_message)));
}

TEST_F(XeddsaTest, AnyFlippedBitOfTheMessageFails) {
  for (std::size_t bit = 0; bit < message_.size() * 8; ++bit)
    EXPECT_FALSE(verify_xeddsa(key_, flip_bit(message_, bit), signature_)) << "bit " << bit;
}

TEST_F(XeddsaTest, AnyFlippedBitOfTheSignatureFails) {
  // Bit 511 is the top bit of s, which XEdDSA keeps clear; flipping it must fail like any other.
  for (std::size_t bit = 0; bit < signature_.size() * 8; ++bit)
    EXPECT_FALSE(verify_xeddsa(key_, message_, flip_bit(signature_, bit))) << "bit " << bit;
}

TEST_F(XeddsaTest, AnyFlippedBitOfTheKeyFails) {
  // Bit 255 of the Montgomery u-coordinate (the top bit of the last byte) is masked by the curve arithmetic in
  // some implementations; check every other bit, and that the type byte is checked.
  for (std::size_t bit = 8; bit < key_.size() * 8 - 1; ++bit)
    EXPECT_FALSE(verify_xeddsa(flip_bit(key_, bit), message_, signature_)) << "bit " << bit;
  for (std::size_t bit = 0; bit < 8; ++bit)
    EXPECT_FALSE(verify_xeddsa(flip_bit(key_, bit), message_, signature_)) << "type bit " << bit;
}

TEST_F(XeddsaTest, AnotherKeysSignatureFails) {
  TestIdentityKey other(context_);
  EXPECT_FALSE(verify_xeddsa(other.public_key(), message_, signature_));
  EXPECT_FALSE(verify_xeddsa(key_, message_, other.sign(message_)));
  EXPECT_TRUE(verify_xeddsa(other.public_key(), message_, other.sign(message_)));
}

TEST_F(XeddsaTest, WrongLengthsFail) {
  EXPECT_FALSE(verify_xeddsa(key_.substr(0, 32), message_, signature_));
  EXPECT_FALSE(verify_xeddsa(key_.substr(1), message_, signature_));  // the bare 32-byte key
  EXPECT_FALSE(verify_xeddsa(key_ + '\0', message_, signature_));
  EXPECT_FALSE(verify_xeddsa("", message_, signature_));
  EXPECT_FALSE(verify_xeddsa(key_, message_, signature_.substr(0, 63)));
  EXPECT_FALSE(verify_xeddsa(key_, message_, signature_ + '\0'));
  EXPECT_FALSE(verify_xeddsa(key_, message_, ""));
  EXPECT_FALSE(verify_xeddsa(key_, message_, std::string(64, '\0')));
  EXPECT_FALSE(verify_xeddsa(std::string(33, '\0'), message_, signature_));
}

}  // namespace
}  // namespace latchkey
