#include "client/provisioning/provisioning.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "client/provisioning/device_name.h"
#include "client/provisioning/terminal_qr.h"

namespace latchkey::client {
namespace {

class ProvisioningTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(ProvisioningTest, LinkUrlRoundTrips) {
  EphemeralKeyPair keys = generate_ephemeral_key_pair();
  LinkUrl url{"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", keys.public_key};
  std::string text = format_link_url(url);
  EXPECT_TRUE(text.starts_with("latchkey://link?address="));
  auto back = parse_link_url("  " + text + "\n");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->address, url.address);
  EXPECT_EQ(back->public_key, url.public_key);
}

TEST_F(ProvisioningTest, BadLinkUrlsAreRejected) {
  EXPECT_FALSE(parse_link_url("https://example.org").ok());
  EXPECT_FALSE(parse_link_url("latchkey://link?address=abc").ok());
  EXPECT_FALSE(parse_link_url("latchkey://link?address=a%2Fb&pub=AAAA").ok());
}

TEST_F(ProvisioningTest, MessageOpensOnlyWithTheEphemeralKey) {
  EphemeralKeyPair keys = generate_ephemeral_key_pair();
  EphemeralKeyPair other = generate_ephemeral_key_pair();
  ProvisioningMessage m;
  m.uuid = "65ae42d9-c2d8-4e01-a14a-aa7571d3fd5c";
  m.number = "+33612345678";
  m.identity_public = std::string(1, '\x05') + std::string(32, 'p');
  m.identity_private = std::string(32, 's');
  m.verification_code = "code-123";
  auto sealed = seal_provisioning_message(m, keys.public_key);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(m.identity_private), std::string::npos);
  auto opened = open_provisioning_message(*sealed, keys);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->uuid, m.uuid);
  EXPECT_EQ(opened->number, m.number);
  EXPECT_EQ(opened->identity_public, m.identity_public);
  EXPECT_EQ(opened->identity_private, m.identity_private);
  EXPECT_EQ(opened->verification_code, m.verification_code);
  EXPECT_FALSE(open_provisioning_message(*sealed, other).ok());
  std::string tampered = *sealed;
  tampered[tampered.size() - 1] ^= 1;
  EXPECT_FALSE(open_provisioning_message(tampered, keys).ok());
}

TEST_F(ProvisioningTest, QrCodeIsSquareWithHalfBlockRows) {
  auto qr = render_terminal_qr("latchkey://link?address=abc&pub=def");
  ASSERT_TRUE(qr.ok());
  std::size_t lines = 0;
  for (char c : *qr) lines += c == '\n';
  // Version 3 at level L (29 modules) plus a 2-module quiet zone on each side: 33 rows -> 17 lines.
  EXPECT_GE(lines, 12u);
  EXPECT_NE(qr->find("\u2588"), std::string::npos);
}

TEST_F(ProvisioningTest, DeviceNamesDecryptOnlyWithTheAccountKey) {
  std::string key(32, 'a');
  std::string encrypted = encrypt_device_name(key, "laptop");
  EXPECT_EQ(encrypted.find("laptop"), std::string::npos);
  EXPECT_EQ(decrypt_device_name(key, encrypted), "laptop");
  EXPECT_FALSE(decrypt_device_name(std::string(32, 'b'), encrypted).has_value());
  EXPECT_FALSE(decrypt_device_name(key, "not base64!").has_value());
}

}  // namespace
}  // namespace latchkey::client
