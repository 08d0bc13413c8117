#include "incidents/breach_report.h"

#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/phone_number.h"

namespace latchkey {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '"' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split_fields(std::string_view line) {
  const char separator = line.find(';') != std::string_view::npos && line.find(',') == std::string_view::npos ? ';' : ',';
  std::vector<std::string> fields;
  std::string current;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == separator && !quoted) {
      fields.push_back(trim(current));
      current.clear();
    } else {
      current += ch;
    }
  }
  fields.push_back(trim(current));
  return fields;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Collector {
 public:
  explicit Collector(std::size_t max) : max_(max) {}
  // False once over the limit.
  bool add(const std::string& text, const std::string& where) {
    auto number = parse_phone_number(text);
    if (!number.ok()) {
      if (report_.problems.size() < 100) report_.problems.push_back(where + ": " + number.error().message);
      return true;
    }
    if (seen_.insert(number->e164).second) report_.numbers.push_back(number->e164);
    return report_.numbers.size() <= max_;
  }
  BreachReport take() { return std::move(report_); }

 private:
  std::size_t max_;
  BreachReport report_;
  std::unordered_set<std::string> seen_;
};

}  // namespace

Result<BreachReport> parse_breach_report(std::string_view format, std::string_view content, std::size_t max_numbers) {
  Collector collector(max_numbers);
  auto too_many = [&] {
    return make_error(ErrorCode::kMalformedRequest,
                      "the report lists more than " + std::to_string(max_numbers) + " numbers (incidents.max_report_numbers)");
  };
  if (format == "json") {
    auto json = nlohmann::json::parse(content, nullptr, false);
    if (json.is_discarded()) return make_error(ErrorCode::kMalformedRequest, "report.content is not valid JSON");
    const nlohmann::json* list = &json;
    if (json.is_object()) {
      auto it = json.find("numbers");
      if (it == json.end()) return make_error(ErrorCode::kMalformedRequest, "report.content: expected {\"numbers\": [...]}");
      list = &*it;
    }
    if (!list->is_array()) return make_error(ErrorCode::kMalformedRequest, "report.content: numbers must be an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& item = (*list)[i];
      if (!item.is_string()) return make_error(ErrorCode::kMalformedRequest, "report.content: numbers must be strings");
      if (!collector.add(item.get<std::string>(), "numbers[" + std::to_string(i) + "]")) return too_many();
    }
  } else if (format == "csv") {
    std::size_t line_number = 0;
    int column = -1;  // -1: not decided; -2: single-column file without header
    std::size_t start = 0;
    while (start <= content.size()) {
      std::size_t end = content.find('\n', start);
      if (end == std::string_view::npos) end = content.size();
      std::string_view line = content.substr(start, end - start);
      start = end + 1;
      ++line_number;
      if (trim(line).empty()) {
        if (end == content.size()) break;
        continue;
      }
      auto fields = split_fields(line);
      if (column == -1) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
          const std::string name = lower(fields[i]);
          if (name == "number" || name == "phone" || name == "phone_number" || name == "msisdn" || name == "to" ||
              name == "e164")
            column = static_cast<int>(i);
        }
        if (column >= 0) continue;  // that was the header
        if (!fields.empty() && !fields[0].empty() && fields[0][0] != '+' && fields.size() > 1)
          return make_error(ErrorCode::kMalformedRequest,
                            "report.content: the CSV header names no number column (number, phone, msisdn, to)");
        column = 0;
      }
      const std::string value = static_cast<std::size_t>(column) < fields.size() ? fields[column] : "";
      if (!collector.add(value, "line " + std::to_string(line_number))) return too_many();
      if (end == content.size()) break;
    }
  } else {
    return make_error(ErrorCode::kMalformedRequest, "report.format: expected \"csv\" or \"json\"");
  }
  BreachReport report = collector.take();
  if (report.numbers.empty()) {
    Error error = make_error(ErrorCode::kMalformedRequest, "report.content lists no valid phone number");
    error.details = {{"problems", report.problems}};
    return error;
  }
  return report;
}

}  // namespace latchkey
