#include "sms/outbox_provider.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

namespace latchkey {
namespace {

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

Result<std::unique_ptr<OutboxProvider>> OutboxProvider::open(const std::string& name, const std::string& path,
                                                             const Clock* clock) {
  if (path.empty())
    return make_error(ErrorCode::kInternal, "sms provider " + name + ": outbox path is empty");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return make_error(ErrorCode::kInternal,
                        "sms provider " + name + ": cannot create " + parent.string() + ": " + ec.message());
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kInternal,
                      "sms provider " + name + ": cannot open " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<OutboxProvider>(new OutboxProvider(name, path, fd, clock ? clock : &system_clock()));
}

OutboxProvider::OutboxProvider(std::string name, std::string path, int fd, const Clock* clock)
    : name_(std::move(name)), path_(std::move(path)), fd_(fd), clock_(clock) {}

OutboxProvider::~OutboxProvider() { ::close(fd_); }

SendResult OutboxProvider::send(const OutgoingMessage& message) {
  static std::atomic<std::uint64_t> sequence{0};
  SendResult result;
  try {
    nlohmann::json line = {
        {"to", message.to},         {"body", message.body},
        {"provider", name_},        {"transport", transport_name(message.transport)},
        {"time", clock_->now_ms()},
    };
    // Invalid UTF-8 in the body is replaced rather than thrown on.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    ssize_t written;
    do {
      written = ::write(fd_, text.data(), text.size());
    } while (written < 0 && errno == EINTR);
    if (written < 0) {
      result.outcome = SendOutcome::kRetryable;
      result.detail = std::string("outbox write failed: ") + std::strerror(errno);
      return result;
    }
    if (static_cast<std::size_t>(written) != text.size()) {
      result.outcome = SendOutcome::kRetryable;
      result.detail = "outbox write was short";
      return result;
    }
    result.outcome = SendOutcome::kSent;
    result.provider_message_id = "outbox-" + std::to_string(sequence.fetch_add(1) + 1);
  } catch (const std::exception&) {
    // The exception text may quote the body, so it is not kept.
    result.outcome = SendOutcome::kRetryable;
    result.detail = "outbox could not format the message";
  }
  return result;
}

}  // namespace latchkey
