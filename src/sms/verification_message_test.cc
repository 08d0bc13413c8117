#include "sms/verification_message.h"

#include <gtest/gtest.h>

#include <string>

namespace latchkey {
namespace {

TEST(VerificationMessageTest, EnglishTextCarriesTheCodeAndTheWarning) {
  EXPECT_EQ(
      verification_message_text("en", "123456", Transport::kSms),
      "Your Latchkey verification code is 123456. Never share it with anyone, not even Latchkey staff.");
}

TEST(VerificationMessageTest, EveryLanguageCarriesTheCodeOnce) {
  std::string english = verification_message_text("en", "482913", Transport::kSms);
  for (const char* language : {"fr", "ja", "es", "de"}) {
    std::string text = verification_message_text(language, "482913", Transport::kSms);
    SCOPED_TRACE(language);
    EXPECT_NE(text, english);
    auto first = text.find("482913");
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(text.find("482913", first + 1), std::string::npos);
    EXPECT_NE(text.find("Latchkey"), std::string::npos);
  }
}

TEST(VerificationMessageTest, TranslationsReadNaturally) {
  EXPECT_NE(verification_message_text("fr", "1", Transport::kSms).find("code de vérification"),
            std::string::npos);
  EXPECT_NE(verification_message_text("es", "1", Transport::kSms).find("código de verificación"),
            std::string::npos);
  EXPECT_NE(verification_message_text("de", "1", Transport::kSms).find("Bestätigungscode"),
            std::string::npos);
  EXPECT_NE(verification_message_text("ja", "1", Transport::kSms).find("認証コード"), std::string::npos);
}

TEST(VerificationMessageTest, ResolvesLocaleForms) {
  EXPECT_EQ(resolve_language("fr"), "fr");
  EXPECT_EQ(resolve_language("fr-FR"), "fr");
  EXPECT_EQ(resolve_language("fr_CA"), "fr");
  EXPECT_EQ(resolve_language("FR"), "fr");
  EXPECT_EQ(resolve_language("ja-JP"), "ja");
  EXPECT_EQ(resolve_language("es-419"), "es");
  EXPECT_EQ(resolve_language("de_AT"), "de");
  EXPECT_EQ(resolve_language("en-GB"), "en");
}

TEST(VerificationMessageTest, UnsupportedOrEmptyLocaleFallsBackToEnglish) {
  EXPECT_EQ(resolve_language(""), "en");
  EXPECT_EQ(resolve_language("pt-BR"), "en");
  EXPECT_EQ(resolve_language("-"), "en");
  EXPECT_EQ(verification_message_text("pt", "123456", Transport::kSms),
            verification_message_text("en", "123456", Transport::kSms));
}

TEST(VerificationMessageTest, VoiceSpacesTheDigits) {
  std::string voice = verification_message_text("en", "123456", Transport::kVoice);
  EXPECT_NE(voice.find("1 2 3 4 5 6"), std::string::npos);
  EXPECT_EQ(voice.find("123456"), std::string::npos);
  for (const char* language : {"fr", "ja", "es", "de"}) {
    SCOPED_TRACE(language);
    EXPECT_NE(verification_message_text(language, "907", Transport::kVoice).find("9 0 7"), std::string::npos);
  }
}

}  // namespace
}  // namespace latchkey
