#include "core/duration.h"

#include <gtest/gtest.h>

namespace latchkey {
namespace {

TEST(DurationTest, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parse_duration("250ms"), Duration(250));
  EXPECT_EQ(parse_duration("5s"), Duration(5000));
  EXPECT_EQ(parse_duration("10m"), Duration(600'000));
  EXPECT_EQ(parse_duration("24h"), Duration(86'400'000));
  EXPECT_EQ(parse_duration("7d"), Duration(7 * 86'400'000LL));
  EXPECT_EQ(parse_duration("1h30m"), Duration(5'400'000));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(DurationTest, RejectsGarbage) {
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("5w"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("99999999999999999999d"));
  EXPECT_FALSE(parse_duration("9223372036854775807d"));
}

TEST(DurationTest, FormatRoundTrips) {
  for (const char* text : {"250ms", "5s", "10m", "36h", "7d", "90s"}) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d) << text;
    EXPECT_EQ(format_duration(*d), text);
  }
}

}  // namespace
}  // namespace latchkey
