#include "client/messages/content.h"

#include <gtest/gtest.h>

namespace latchkey::client {
namespace {

TEST(ContentTest, PaddingIsAMultipleOfTheBlockAndRoundTrips) {
  for (std::size_t n : {0u, 1u, 158u, 159u, 160u, 400u}) {
    std::string plain(n, 'x');
    std::string padded = pad_message(plain);
    EXPECT_EQ(padded.size() % kPaddingBlock, 0u);
    EXPECT_GT(padded.size(), n);
    auto back = unpad_message(padded);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
  }
}

TEST(ContentTest, MalformedPaddingIsRejected) {
  EXPECT_FALSE(unpad_message(std::string(160, '\0')).ok());
  EXPECT_FALSE(unpad_message("abc").ok());
}

TEST(ContentTest, ContentRoundTripsWithAndWithoutSync) {
  MessageContent c;
  c.text = "héllo \"world\"\n";
  c.sent_at_ms = 1763779000000;
  auto back = decode_content(encode_content(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->text, c.text);
  EXPECT_EQ(back->sent_at_ms, c.sent_at_ms);
  EXPECT_FALSE(back->sync_destination.has_value());

  c.sync_destination = "65ae42d9-c2d8-4e01-a14a-aa7571d3fd5c";
  back = decode_content(encode_content(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->sync_destination, c.sync_destination);
}

TEST(ContentTest, ContentWithoutTextIsRejected) {
  EXPECT_FALSE(decode_content(pad_message("{\"v\":1}")).ok());
  EXPECT_FALSE(decode_content(pad_message("not json")).ok());
}

}  // namespace
}  // namespace latchkey::client
