#include "client/net/server_url.h"

#include <gtest/gtest.h>

#include "client/net/http_client.h"

namespace latchkey::client {
namespace {

TEST(ServerUrlTest, ParsesHostsPortsAndSchemes) {
  auto a = parse_server_url("http://127.0.0.1:8080/");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->tls);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "8080");
  EXPECT_EQ(a->text, "http://127.0.0.1:8080");
  auto b = parse_server_url("https://chat.example.org");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->port, "443");
  auto c = parse_server_url("http://[::1]:9000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->text, "http://[::1]:9000");
}

TEST(ServerUrlTest, RejectsOtherForms) {
  EXPECT_FALSE(parse_server_url("ftp://x").ok());
  EXPECT_FALSE(parse_server_url("http://").ok());
  EXPECT_FALSE(parse_server_url("http://host/path").ok());
  EXPECT_FALSE(parse_server_url("http://user@host").ok());
  EXPECT_FALSE(parse_server_url("http://host:80a").ok());
}

TEST(HttpClientTest, BasicAuthorizationAndPathEscaping) {
  EXPECT_EQ(basic_authorization({"a", "b:c"}), "Basic YTpiOmM=");
  EXPECT_EQ(escape_path_segment("+33612345678"), "+33612345678");
  EXPECT_EQ(escape_path_segment("a/b c"), "a%2Fb%20c");
}

}  // namespace
}  // namespace latchkey::client
