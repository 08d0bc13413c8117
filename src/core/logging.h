// Structured logging: one JSON object per line on stderr, {"time", "level", "event", ...fields}.
// Never pass a verification code, password, token, key or message body as a field. Phone numbers are logged
// masked (mask_number). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace latchkey::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// Sets the minimum level ("trace".."error"). Call once at start-up; unknown names keep "info".
void set_level(std::string_view level);
bool enabled(Level level);

void write(Level level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

inline void debug(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  if (enabled(Level::kDebug)) write(Level::kDebug, event, std::move(fields));
}
inline void info(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  if (enabled(Level::kInfo)) write(Level::kInfo, event, std::move(fields));
}
inline void warn(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  if (enabled(Level::kWarn)) write(Level::kWarn, event, std::move(fields));
}
inline void error(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  if (enabled(Level::kError)) write(Level::kError, event, std::move(fields));
}

// "+33612345678" -> "+33******78": enough to correlate, not enough to identify.
std::string mask_number(std::string_view e164);

}  // namespace latchkey::log
