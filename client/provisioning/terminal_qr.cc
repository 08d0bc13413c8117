#include "client/provisioning/terminal_qr.h"

#include <qrencode.h>

#include <memory>

namespace latchkey::client {

Result<std::string> render_terminal_qr(std::string_view text) {
  std::string input(text);
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1),
                                                   QRcode_free);
  if (!code) return make_error(ErrorKind::kUsage, "the text does not fit in a QR code");
  const int width = code->width;
  constexpr int kQuiet = 2;
  const int size = width + 2 * kQuiet;
  auto dark = [&](int x, int y) {
    x -= kQuiet;
    y -= kQuiet;
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (code->data[y * width + x] & 1) != 0;
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top_light = !dark(x, y);
      bool bottom_light = y + 1 < size ? !dark(x, y + 1) : false;
      if (top_light && bottom_light) {
        out += "\u2588";  // full block
      } else if (top_light) {
        out += "\u2580";  // upper half
      } else if (bottom_light) {
        out += "\u2584";  // lower half
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace latchkey::client
