// Phone numbers parsed and normalised with Google's libphonenumber.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace latchkey {

struct PhoneNumber {
  std::string e164;          // "+33612345678"
  std::string country_code;  // calling code, "33"
  std::string region;        // ISO 3166 region, "FR" ("001" for non-geographic)
};

// Parses a number written in international form ("+33 6 12 34 56 78" is accepted and normalised). The
// answer's e164 parses to itself, so every way of writing a number names the same account (see
// phone_number.cc for a number whose first E.164 form does not). kInvalidNumber: not a number, no leading
// '+', not a valid number for its country per libphonenumber, or no E.164 form that parses to itself.
// Thread-safe.
Result<PhoneNumber> parse_phone_number(std::string_view text);

// The number in international format with every national digit hidden except the first and the last two, so
// staff can tell numbers apart without reading them: "+33612345678" -> "+33 6•• •• •• 78". Anything that does
// not parse is masked whole except its last two characters. Thread-safe.
std::string mask_phone_number(std::string_view e164);

}  // namespace latchkey
