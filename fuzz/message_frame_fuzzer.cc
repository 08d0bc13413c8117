// Differential fuzzing of the message-socket frame and send-body readers (net/message_parsing.h): whenever the
// scanner answers, the tree reader (nlohmann) must answer exactly the same; neither may crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/message_parsing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kMaxContent = 96;

  if (auto scanned = latchkey::scan_socket_frame(text, kMaxContent)) {
    if (latchkey::describe(*scanned) != latchkey::describe(latchkey::parse_socket_frame_tree(text, kMaxContent)))
      __builtin_trap();
  } else {
    (void)latchkey::parse_socket_frame_tree(text, kMaxContent);
  }

  if (auto scanned = latchkey::scan_send_body(text, "d", kMaxContent)) {
    if (latchkey::describe(*scanned) != latchkey::describe(latchkey::parse_send_body_tree(text, "d", kMaxContent)))
      __builtin_trap();
  }
  return 0;
}
