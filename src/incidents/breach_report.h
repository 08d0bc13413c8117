// Reading a provider's breach report: the phone numbers it lists.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace latchkey {

struct BreachReport {
  std::vector<std::string> numbers;        // E.164, each once, in first-seen order
  std::vector<std::string> problems;       // "line 7: number is not valid ..." for lines that were skipped
};

// `format` is "csv" or "json". CSV: one number per line, or a header line naming a `number`, `phone`,
// `phone_number`, `msisdn` or `to` column (comma or semicolon separated; quotes allowed); blank lines are
// skipped. JSON: {"numbers": ["+33...", ...]} or an array of strings. Numbers must be international
// ("+33 6 12 34 56 78" is normalised).
// Errors: kMalformedRequest for an unknown format, unreadable JSON, a CSV header without a number column, no
// valid number at all, or more than `max_numbers` numbers.
Result<BreachReport> parse_breach_report(std::string_view format, std::string_view content, std::size_t max_numbers);

}  // namespace latchkey
