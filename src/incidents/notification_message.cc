#include "incidents/notification_message.h"

#include <array>

#include <fmt/format.h>

namespace latchkey {
namespace {

struct Template {
  std::string_view language;
  std::string_view text;  // {} is the support page
};

constexpr std::array<Template, 5> kTemplates = {{
    {"en",
     "Latchkey security notice: a company that sends our verification codes was breached, so we signed your "
     "account out on all devices. Open the app and register again to continue. Never share a code. Details: {}"},
    {"fr",
     "Avis de sécurité Latchkey : un prestataire qui envoie nos codes de vérification a été piraté ; nous avons "
     "déconnecté votre compte sur tous vos appareils. Ouvrez l'app et réinscrivez-vous. Ne partagez jamais de "
     "code. Détails : {}"},
    {"ja",
     "Latchkey セキュリティのお知らせ：認証コードを送信する委託先が侵害されたため、すべての端末でアカウントを"
     "ログアウトしました。アプリを開いて再登録してください。コードは誰にも教えないでください。詳細：{}"},
    {"es",
     "Aviso de seguridad de Latchkey: un proveedor que envía nuestros códigos de verificación sufrió una "
     "intrusión, así que cerramos la sesión de tu cuenta en todos tus dispositivos. Abre la app y vuelve a "
     "registrarte. Nunca compartas un código. Detalles: {}"},
    {"de",
     "Latchkey-Sicherheitshinweis: Ein Dienstleister, der unsere Bestätigungscodes versendet, wurde angegriffen. "
     "Wir haben Ihr Konto auf allen Geräten abgemeldet. Öffnen Sie die App und registrieren Sie sich neu. Geben "
     "Sie nie einen Code weiter. Details: {}"},
}};

}  // namespace

std::string notification_language(std::string_view region, const std::string& fallback) {
  static constexpr std::string_view kFrench[] = {"FR", "BE", "LU", "MC", "SN", "CI", "CM", "ML", "BF", "NE",
                                                 "TG", "BJ", "GA", "CG", "CD", "MG", "HT", "RE", "GP", "MQ",
                                                 "GF", "YT", "PF", "NC"};
  static constexpr std::string_view kSpanish[] = {"ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU",
                                                  "BO", "DO", "HN", "PY", "SV", "NI", "CR", "PA", "UY", "GQ"};
  static constexpr std::string_view kGerman[] = {"DE", "AT", "CH", "LI"};
  for (auto r : kFrench)
    if (r == region) return "fr";
  for (auto r : kSpanish)
    if (r == region) return "es";
  for (auto r : kGerman)
    if (r == region) return "de";
  if (region == "JP") return "ja";
  if (region == "US" || region == "GB" || region == "IE" || region == "AU" || region == "NZ" || region == "CA")
    return "en";
  return fallback;
}

std::string notification_text(std::string_view language, std::string_view support_url) {
  for (const Template& t : kTemplates)
    if (t.language == language) return fmt::format(fmt::runtime(t.text), support_url);
  return fmt::format(fmt::runtime(kTemplates[0].text), support_url);
}

}  // namespace latchkey
