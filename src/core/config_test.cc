#include "core/config.h"

#include <fstream>

#include <gtest/gtest.h>

namespace latchkey {
namespace {

TEST(ConfigTest, EmptyFileGivesDefaultsWithOutbox) {
  auto c = load_config_text("");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->verification.proof_of_work_bits, 16);
  ASSERT_EQ(c->sms.providers.size(), 1u);
  EXPECT_EQ(c->sms.providers[0].kind, "outbox");
  EXPECT_EQ(c->sms.routing.default_route, std::vector<std::string>{"dev-outbox"});
}

TEST(ConfigTest, ShippedDevConfigIsValid) {
  std::string path = std::string(LATCHKEY_TEST_SOURCE_DIR) + "/config/latchkey.dev.toml";
  auto c = load_config_file(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->storage.sqlite_path, "var/latchkey.db");
  EXPECT_EQ(c->sms.routing.default_route, (std::vector<std::string>{"twilio", "dev-outbox"}));
  EXPECT_FALSE(c->sms.providers[1].enabled);
  EXPECT_EQ(c->limits.session_create_per_number.burst, 10);
  EXPECT_EQ(c->limits.session_create_per_number.refill, std::chrono::minutes(6));
}

TEST(ConfigTest, ReadsEveryKind) {
  auto c = load_config_text(R"(
[server]
listen = "0.0.0.0:9000"
max_body_bytes = 2048
[verification]
proof_of_work_bits = 0
code_ttl = "5m"
sms_delays = ["10s", "1m"]
allowed_country_codes = ["33", "49"]
[limits]
code_send_per_ip = { burst = 3, refill = "2s" }
[limits.sms_pumping]
min_verified_ratio = 0.25
[[sms.providers]]
name = "a"
kind = "outbox"
path = "x.jsonl"
[sms.routing]
default = ["a"]
"33" = ["a"]
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c->server.max_body_bytes, 2048u);
  EXPECT_EQ(c->verification.proof_of_work_bits, 0);
  EXPECT_EQ(c->verification.code_ttl, std::chrono::minutes(5));
  EXPECT_EQ(c->verification.sms_delays.size(), 2u);
  EXPECT_EQ(c->limits.code_send_per_ip.burst, 3);
  EXPECT_DOUBLE_EQ(c->limits.sms_pumping.min_verified_ratio, 0.25);
  EXPECT_EQ(c->sms.routing.by_country.at("33"), std::vector<std::string>{"a"});
}

TEST(ConfigTest, ReportsEveryProblemByKeyPath) {
  auto c = load_config_text(R"(
[server]
listen = "nope"
colour = "blue"
[verification]
proof_of_work_bits = -1
code_ttl = "ten minutes"
[limits]
code_send_per_ip = { burst = 0, refill = "1s" }
[[sms.providers]]
name = "t"
kind = "twilio-messaging"
account_sid = "bad"
[sms.routing]
default = ["t", "ghost"]
)");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.error().message;
  for (const char* path : {"server.listen:", "server.colour: unknown key", "verification.proof_of_work_bits:",
                           "verification.code_ttl:", "limits.code_send_per_ip.burst:", "sms.providers[0].account_sid:",
                           "sms.providers[0].auth_token:", "sms.providers[0].from:", "sms.routing.default[1]: unknown provider"}) {
    EXPECT_NE(m.find(path), std::string::npos) << "missing " << path << " in:\n" << m;
  }
}

TEST(ConfigTest, ReadsStorageCacheSizesWithinRange) {
  auto c = load_config_text("[storage]\nwrite_cache_kib = 1024\nread_cache_kib = 64\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->storage.write_cache_kib, 1024);
  EXPECT_EQ(c->storage.read_cache_kib, 64);
  EXPECT_EQ(load_config_text("").value().storage.write_cache_kib, 65536);  // the documented default

  auto bad = load_config_text("[storage]\nwrite_cache_kib = 1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("storage.write_cache_kib:"), std::string::npos) << bad.error().message;
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  auto c = load_config_text("[server\nlisten=1", "f.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("f.toml:1"), std::string::npos) << c.error().message;
}

TEST(ConfigTest, RelocateMovesStateFiles) {
  Config c = default_config();
  relocate_state_files(c, "/tmp/x");
  EXPECT_EQ(c.storage.sqlite_path, "/tmp/x/latchkey.db");
  EXPECT_EQ(c.sms.providers[0].path, "/tmp/x/outbox.jsonl");
  EXPECT_EQ(c.server.data_dir, "/tmp/x");
}

}  // namespace
}  // namespace latchkey
