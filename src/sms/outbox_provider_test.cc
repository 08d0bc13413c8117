#include "sms/outbox_provider.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace latchkey {
namespace {

class OutboxProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/latchkey_outbox_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<nlohmann::json> read_lines(const std::filesystem::path& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  std::filesystem::path dir_;
};

TEST_F(OutboxProviderTest, AppendsOneJsonLinePerMessage) {
  ManualClock clock(1'700'000'000'123);
  auto path = dir_ / "outbox.jsonl";
  auto outbox = OutboxProvider::open("outbox", path.string(), &clock);
  ASSERT_TRUE(outbox.ok()) << outbox.error().message;

  SendResult first = (*outbox)->send({"+33612345678", "33", Transport::kSms, "Code 123456"});
  clock.advance(std::chrono::milliseconds(5));
  SendResult second = (*outbox)->send({"+81312345678", "81", Transport::kVoice, "認証コード 1 2 3"});
  EXPECT_EQ(first.outcome, SendOutcome::kSent);
  EXPECT_EQ(second.outcome, SendOutcome::kSent);
  EXPECT_FALSE(first.provider_message_id.empty());
  EXPECT_NE(first.provider_message_id, second.provider_message_id);

  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], (nlohmann::json{{"to", "+33612345678"},
                                      {"body", "Code 123456"},
                                      {"provider", "outbox"},
                                      {"transport", "sms"},
                                      {"time", 1'700'000'000'123}}));
  EXPECT_EQ(lines[1]["transport"], "voice");
  EXPECT_EQ(lines[1]["body"], "認証コード 1 2 3");
  EXPECT_TRUE(lines[1]["time"].is_number_integer());
  EXPECT_EQ(lines[1]["time"].get<std::int64_t>(), 1'700'000'000'128);

  std::ifstream raw(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.back(), '\n');
}

TEST_F(OutboxProviderTest, SupportsBothTransports) {
  auto outbox = OutboxProvider::open("dev", (dir_ / "o.jsonl").string());
  ASSERT_TRUE(outbox.ok());
  EXPECT_EQ((*outbox)->name(), "dev");
  EXPECT_TRUE((*outbox)->supports(Transport::kSms));
  EXPECT_TRUE((*outbox)->supports(Transport::kVoice));
}

TEST_F(OutboxProviderTest, CreatesParentDirectoryAndPrivateFile) {
  auto path = dir_ / "a" / "b" / "outbox.jsonl";
  auto outbox = OutboxProvider::open("outbox", path.string());
  ASSERT_TRUE(outbox.ok()) << outbox.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(OutboxProviderTest, AppendsToAnExistingFile) {
  auto path = dir_ / "outbox.jsonl";
  {
    std::ofstream out(path);
    out << "{\"earlier\":true}\n";
  }
  auto outbox = OutboxProvider::open("outbox", path.string());
  ASSERT_TRUE(outbox.ok());
  EXPECT_EQ((*outbox)->send({"+15551234567", "1", Transport::kSms, "hi"}).outcome, SendOutcome::kSent);
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0]["earlier"].get<bool>());
  EXPECT_EQ(lines[1]["to"], "+15551234567");
}

TEST_F(OutboxProviderTest, OpenFailsWhenTheFileCannotBeOpened) {
  auto on_directory = OutboxProvider::open("outbox", dir_.string());
  ASSERT_FALSE(on_directory.ok());
  EXPECT_EQ(on_directory.error().code, ErrorCode::kInternal);
  EXPECT_NE(on_directory.error().message.find("outbox"), std::string::npos);

  std::ofstream(dir_ / "plain_file") << "x";
  auto under_file = OutboxProvider::open("outbox", (dir_ / "plain_file" / "outbox.jsonl").string());
  EXPECT_FALSE(under_file.ok());

  EXPECT_FALSE(OutboxProvider::open("outbox", "").ok());
}

TEST_F(OutboxProviderTest, FailedWriteIsRetryableAndDoesNotQuoteTheBody) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto outbox = OutboxProvider::open("full", "/dev/full");
  ASSERT_TRUE(outbox.ok()) << outbox.error().message;
  SendResult result = (*outbox)->send({"+33612345678", "33", Transport::kSms, "secret 424242"});
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable);
  EXPECT_FALSE(result.detail.empty());
  EXPECT_EQ(result.detail.find("424242"), std::string::npos);
}

TEST_F(OutboxProviderTest, ConcurrentWritersNeverInterleaveLines) {
  auto path = dir_ / "outbox.jsonl";
  // Two providers on the same file stand in for two processes.
  auto a = OutboxProvider::open("a", path.string());
  auto b = OutboxProvider::open("b", path.string());
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::string long_body(3000, 'x');  // long lines would tear first if writes could interleave
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      OutboxProvider& provider = t % 2 == 0 ? **a : **b;
      for (int i = 0; i < kPerThread; ++i) {
        OutgoingMessage message{"+3361234" + std::to_string(t), "33", Transport::kSms,
                                std::to_string(i) + long_body};
        EXPECT_EQ(provider.send(message).outcome, SendOutcome::kSent);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto lines = read_lines(path);  // throws (fails the test) on a torn line
  EXPECT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace latchkey
