// The localised text of a verification message. Supported languages: en, fr, ja, es, de (others fall back to
// English). `locale` may be "fr", "fr-FR", "fr_FR" or empty.
#pragma once

#include <string>
#include <string_view>

#include "sms/sms_provider.h"

namespace latchkey {

// For SMS the text carries the code as digits; for voice the digits are spaced so a text-to-speech engine
// reads them one by one.
std::string verification_message_text(std::string_view locale, std::string_view code, Transport transport);

// The language actually used for `locale` ("en" when unsupported).
std::string resolve_language(std::string_view locale);

}  // namespace latchkey
