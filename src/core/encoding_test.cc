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

}  // namespace
}  // namespace latchkey

TEST(UrlDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(latchkey::url_decode("%2B33+6%2012"), "+33 6 12");
  EXPECT_EQ(latchkey::url_decode("100%"), "100%");
  EXPECT_EQ(latchkey::url_decode("%zz%4"), "%zz%4");
}
