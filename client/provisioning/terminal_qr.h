// Draws a QR code in a terminal with Unicode half blocks (two module rows per text line), via libqrencode.
#pragma once

#include <string>
#include <string_view>

#include "client/core/result.h"

namespace latchkey::client {

// Lines of text, each ending in '\n', with a quiet zone of 2 modules. Light modules are drawn as blocks, for
// the usual light-on-dark terminal (as `qrencode -t UTF8`). kUsage when the text is too long for a QR code.
Result<std::string> render_terminal_qr(std::string_view text);

}  // namespace latchkey::client
