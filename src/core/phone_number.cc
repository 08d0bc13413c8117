#include "core/phone_number.h"

#include <phonenumbers/phonenumberutil.h>

namespace latchkey {

Result<PhoneNumber> parse_phone_number(std::string_view text) {
  using i18n::phonenumbers::PhoneNumberUtil;
  if (text.empty() || text.size() > 32 || text.front() != '+')
    return make_error(ErrorCode::kInvalidNumber, "number must be in international format, starting with '+'");
  for (char ch : text) {
    bool allowed = (ch >= '0' && ch <= '9') || ch == '+' || ch == ' ' || ch == '-' || ch == '(' || ch == ')' || ch == '.';
    if (!allowed) return make_error(ErrorCode::kInvalidNumber, "number contains characters that are not digits");
  }
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber parsed;
  if (util.Parse(std::string(text), "ZZ", &parsed) != PhoneNumberUtil::NO_PARSING_ERROR)
    return make_error(ErrorCode::kInvalidNumber, "number could not be parsed");
  if (!util.IsValidNumber(parsed))
    return make_error(ErrorCode::kInvalidNumber, "number is not a valid phone number for its country");
  PhoneNumber out;
  util.Format(parsed, PhoneNumberUtil::E164, &out.e164);
  out.country_code = std::to_string(parsed.country_code());
  util.GetRegionCodeForNumber(parsed, &out.region);
  return out;
}

}  // namespace latchkey
