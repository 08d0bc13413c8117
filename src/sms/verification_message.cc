#include "sms/verification_message.h"

#include <cctype>
#include <string>

namespace latchkey {
namespace {

struct Template {
  const char* language;
  const char* before;  // text before the code
  const char* after;   // text after the code
};

// Each template reads "<before><code><after>".
constexpr Template kTemplates[] = {
    {"en", "Your Latchkey verification code is ", ". Never share it with anyone, not even Latchkey staff."},
    {"fr", "Votre code de vérification Latchkey est ",
     ". Ne le communiquez jamais à personne, pas même au personnel de Latchkey."},
    {"ja", "Latchkeyの認証コードは ", " です。Latchkeyのスタッフを含め、誰にも絶対に教えないでください。"},
    {"es", "Tu código de verificación de Latchkey es ",
     ". No lo compartas nunca con nadie, ni siquiera con el personal de Latchkey."},
    {"de", "Dein Latchkey-Bestätigungscode lautet ",
     ". Gib ihn niemals weiter, auch nicht an Mitarbeiter von Latchkey."},
};

const Template& template_for(std::string_view language) {
  for (const Template& t : kTemplates) {
    if (language == t.language) return t;
  }
  return kTemplates[0];
}

// "123456" -> "1 2 3 4 5 6", so text-to-speech reads digits one by one.
std::string spaced(std::string_view code) {
  std::string out;
  out.reserve(code.size() * 2);
  for (char c : code) {
    if (!out.empty()) out += ' ';
    out += c;
  }
  return out;
}

}  // namespace

std::string resolve_language(std::string_view locale) {
  std::size_t end = locale.find_first_of("-_");
  std::string_view primary = locale.substr(0, end);
  std::string language;
  for (char c : primary) language += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Template& t : kTemplates) {
    if (language == t.language) return language;
  }
  return "en";
}

std::string verification_message_text(std::string_view locale, std::string_view code, Transport transport) {
  const Template& t = template_for(resolve_language(locale));
  std::string shown = transport == Transport::kVoice ? spaced(code) : std::string(code);
  std::string text = t.before;
  text += shown;
  text += t.after;
  return text;
}

}  // namespace latchkey
