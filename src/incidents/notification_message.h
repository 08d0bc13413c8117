// The SMS telling a user that their account was signed out after a provider compromise, in their language.
#pragma once

#include <string>
#include <string_view>

namespace latchkey {

// The language of the notification for a number's ISO region ("FR" -> "fr"): en, fr, ja, es or de, else
// `fallback`.
std::string notification_language(std::string_view region, const std::string& fallback);

// The text in `language` (en when unknown), with `support_url`. Contains no code and no secret.
std::string notification_text(std::string_view language, std::string_view support_url);

}  // namespace latchkey
