#include "core/phone_number.h"

#include <phonenumbers/phonenumberutil.h>

namespace latchkey {

namespace {

// One pass of libphonenumber: parse, check validity, format.
Result<PhoneNumber> parse_once(std::string_view text) {
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

// The E.164 form of `e164` parsed again, without the validity check (the caller's number passed it); empty if
// it does not parse.
std::string reformatted(const std::string& e164) {
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber parsed;
  std::string out;
  if (util.Parse(e164, "ZZ", &parsed) == PhoneNumberUtil::NO_PARSING_ERROR)
    util.Format(parsed, PhoneNumberUtil::E164, &out);
  return out;
}

}  // namespace

Result<PhoneNumber> parse_phone_number(std::string_view text) {
  Result<PhoneNumber> first = parse_once(text);
  if (!first.ok()) return first;
  // libphonenumber's E.164 form does not always parse back to itself: "+52 11 34 56 34 56 78" formats as
  // +5213456345678, which parses as +523456345678 (Mexico's old mobile prefix 1 is dropped on the second
  // pass). A number must name one account whichever way it is written, so the answer is the form that parses
  // to itself.
  const std::string again = reformatted(first->e164);
  if (again == first->e164) return first;
  // The second form must be valid and parse to itself: one more pass checks both.
  Result<PhoneNumber> second = parse_once(again);
  if (second.ok() && second->e164 == again) return second;
  return make_error(ErrorCode::kInvalidNumber, "number has no stable international form");
}

std::string mask_phone_number(std::string_view e164) {
  using i18n::phonenumbers::PhoneNumberUtil;
  static constexpr std::string_view kDot = "\u2022";
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber parsed;
  std::string formatted;
  std::size_t prefix = 0;  // characters of "+<country code> " left visible
  if (!e164.empty() && e164.front() == '+' &&
      util.Parse(std::string(e164), "ZZ", &parsed) == PhoneNumberUtil::NO_PARSING_ERROR) {
    util.Format(parsed, PhoneNumberUtil::INTERNATIONAL, &formatted);
    prefix = 1 + std::to_string(parsed.country_code()).size();
  } else {
    formatted = std::string(e164);
  }
  std::size_t digits = 0;
  for (std::size_t i = prefix; i < formatted.size(); ++i)
    if (formatted[i] >= '0' && formatted[i] <= '9') ++digits;
  std::string out = formatted.substr(0, prefix);
  std::size_t seen = 0;
  for (std::size_t i = prefix; i < formatted.size(); ++i) {
    char ch = formatted[i];
    if (ch >= '0' && ch <= '9') {
      ++seen;
      const bool visible = (prefix > 0 && seen == 1) || seen + 2 > digits;
      if (visible) out += ch;
      else out += kDot;
    } else if (prefix > 0) {
      // "+33 6 12 34 56 78": a first group of one digit joins the next, "+33 6•• •• •• 78".
      const bool after_lone_first_digit = seen == 1 && i >= 2 && formatted[i - 2] == ' ';
      if (!after_lone_first_digit || i == prefix) out += ch;
    } else {
      out += kDot;  // unparsed input: hide everything but the last two digits
    }
  }
  return out;
}

}  // namespace latchkey
