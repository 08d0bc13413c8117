#include "core/encoding.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace latchkey {
namespace {

TEST(EncodingTest, RoundTrips) {
  ASSERT_GE(sodium_init(), 0);
  std::string bytes("\x00\xff\x10hello\xfb", 9);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
  EXPECT_EQ(hex_decode(hex_encode(bytes)), bytes);
  EXPECT_EQ(base64_encode("hi"), "aGk=");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(hex_encode("\x01\xab"), "01ab");
}

TEST(EncodingTest, RejectsGarbage) {
  EXPECT_FALSE(base64_decode("aGk"));       // missing padding
  EXPECT_FALSE(base64_decode("a*k="));
  EXPECT_FALSE(base64url_decode("+/8"));   // standard alphabet in URL-safe text
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
}

TEST(EncodingTest, PublicBase64AgreesWithLibsodium) {
  ASSERT_GE(sodium_init(), 0);
  for (std::size_t length = 0; length < 70; ++length) {
    for (int round = 0; round < 8; ++round) {
      std::string bytes(length, '\0');
      randombytes_buf(bytes.data(), bytes.size());
      const std::string standard = base64_encode(bytes);
      ASSERT_EQ(base64_encode_public(bytes), standard) << length;
      std::string appended = "prefix:";
      base64_append_public(appended, bytes);
      ASSERT_EQ(appended, "prefix:" + standard) << length;
      ASSERT_EQ(base64_decode_public_any(standard), bytes) << standard;
      const std::string url = base64url_encode(bytes);
      ASSERT_EQ(base64_decode_public_any(url), bytes) << url;
      if (url.size() % 4 != 0) {
        ASSERT_EQ(base64_decode_public_any(url + std::string(4 - url.size() % 4, '=')), bytes);
      }
    }
  }
}

TEST(EncodingTest, PublicBase64RefusesMalformedText) {
  // Also refused by the libsodium decoders, standard then URL-safe.
  for (const char* bad : {"a", "a===", "aG=k", "aGk=a", "a*k=", "aGl=", "aR", "+/8-", "aGk=\n", " aGk="}) {
    EXPECT_FALSE(base64_decode(bad).has_value() || base64url_decode(bad).has_value()) << bad;
    EXPECT_FALSE(base64_decode_public_any(bad)) << bad;
  }
  // Stricter than stripping every trailing '=': padding, when present, completes one 4-character quantum.
  for (const char* bad : {"====", "aGk==", "YQ="}) EXPECT_FALSE(base64_decode_public_any(bad)) << bad;
  EXPECT_EQ(base64_decode_public_any("aGk"), "hi");  // URL-safe text needs no padding
  EXPECT_EQ(base64_decode_public_any("aQ"), "i");
  EXPECT_EQ(base64_decode_public_any("YQ=="), "a");
  EXPECT_EQ(base64_decode_public_any(""), "");
}

}  // namespace
}  // namespace latchkey

TEST(UrlDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(latchkey::url_decode("%2B33+6%2012"), "+33 6 12");
  EXPECT_EQ(latchkey::url_decode("100%"), "100%");
  EXPECT_EQ(latchkey::url_decode("%zz%4"), "%zz%4");
}
