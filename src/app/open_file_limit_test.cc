#include "app/open_file_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace latchkey {
namespace {

// Lowers the soft limit for one test and puts it back afterwards.
class OpenFileLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  rlimit saved_{};
};

TEST_F(OpenFileLimitTest, RaisesTheSoftLimitToTheHardLimit) {
  if (saved_.rlim_max != RLIM_INFINITY && saved_.rlim_max < 512) GTEST_SKIP() << "hard limit below 512";
  rlimit lowered{256, saved_.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

  auto limit = raise_open_file_limit();
  ASSERT_TRUE(limit.ok()) << limit.error().message;
  EXPECT_EQ(limit->before, 256u);
  EXPECT_EQ(limit->hard, saved_.rlim_max);
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(limit->soft, now.rlim_cur);
  if (saved_.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, saved_.rlim_max);
  }
  EXPECT_GT(now.rlim_cur, 256u);
}

TEST_F(OpenFileLimitTest, NeverLowersIt) {
  auto first = raise_open_file_limit();
  ASSERT_TRUE(first.ok());
  auto second = raise_open_file_limit();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->before, first->soft);
  EXPECT_EQ(second->soft, first->soft);
}

TEST(OpenFileLimitShortfallTest, SaysWhatToRaiseWhenTheLimitCannotHoldTheConnections) {
  EXPECT_FALSE(open_file_limit_shortfall(10'000 + kDescriptorsBesidesConnections, 10'000).has_value());
  EXPECT_FALSE(open_file_limit_shortfall(1'048'576, 10'000).has_value());

  auto shortfall = open_file_limit_shortfall(1'024, 10'000);
  ASSERT_TRUE(shortfall.has_value());
  EXPECT_NE(shortfall->find("(1024)"), std::string::npos) << *shortfall;
  EXPECT_NE(shortfall->find("about 768 connections"), std::string::npos) << *shortfall;
  EXPECT_NE(shortfall->find("at least 10256"), std::string::npos) << *shortfall;
  EXPECT_NE(shortfall->find("LimitNOFILE="), std::string::npos) << *shortfall;

  // A limit below what the server's own files need leaves no room for connections at all.
  auto tiny = open_file_limit_shortfall(100, 1);
  ASSERT_TRUE(tiny.has_value());
  EXPECT_NE(tiny->find("about 0 connections"), std::string::npos) << *tiny;
}

}  // namespace
}  // namespace latchkey
