// The staff console's static files (web/console), embedded in the binary at build time by
// cmake/embed_console.cmake, so latchkeyd serves them with no files to deploy.
#pragma once

#include <string_view>
#include <vector>

namespace latchkey {

struct ConsoleAsset {
  std::string_view path;     // relative to web/console, e.g. "index.html", "pages/alerts.js"
  std::string_view content;
};

// Every embedded file, sorted by path. Defined in the generated console_assets.cc.
const std::vector<ConsoleAsset>& console_assets();

}  // namespace latchkey
