#include "core/phone_number.h"

#include <gtest/gtest.h>

namespace latchkey {
namespace {

TEST(PhoneNumberTest, NormalisesValidNumbers) {
  auto n = parse_phone_number("+33 6 12 34 56 78");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->e164, "+33612345678");
  EXPECT_EQ(n->country_code, "33");
  EXPECT_EQ(n->region, "FR");
  auto us = parse_phone_number("+1 (202) 456-1111");
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(us->e164, "+12024561111");
  EXPECT_EQ(us->country_code, "1");
}

TEST(PhoneNumberTest, RejectsImpossibleNumbers) {
  for (const char* bad : {"", "abc", "+", "+1", "0612345678", "+999999999999999", "+3361234567a", "+33 1",
                          "+33612345678901234567890123456789012"}) {
    auto n = parse_phone_number(bad);
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.error().code, ErrorCode::kInvalidNumber);
  }
}

// Found by fuzz/phone_number_fuzzer.cc: libphonenumber formats this Mexican number as +5213456345678, which
// parses as +523456345678. Both spellings must give the one form that parses to itself.
TEST(PhoneNumberTest, AnswersTheFormThatParsesToItself) {
  for (const char* spelling :
       {"+52 11 34 56  34 56 78", "++52 11 34 56  34 56 78", "+5213456345678", "+523456345678"}) {
    auto n = parse_phone_number(spelling);
    ASSERT_TRUE(n.ok()) << spelling << ": " << n.error().message;
    EXPECT_EQ(n->e164, "+523456345678") << spelling;
    EXPECT_EQ(n->region, "MX");
    auto again = parse_phone_number(n->e164);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->e164, n->e164);
  }
}

}  // namespace
}  // namespace latchkey

TEST(PhoneNumberTest, MasksAllButTheFirstAndLastTwoNationalDigits) {
  EXPECT_EQ(latchkey::mask_phone_number("+33612345678"), "+33 6\u2022\u2022 \u2022\u2022 \u2022\u2022 78");
  EXPECT_EQ(latchkey::mask_phone_number("+14155550123"), "+1 4\u2022\u2022-\u2022\u2022\u2022-\u2022\u202223");
  // Unparseable text keeps only its last two digits.
  EXPECT_EQ(latchkey::mask_phone_number("12345"), "\u2022\u2022\u202245");
}
