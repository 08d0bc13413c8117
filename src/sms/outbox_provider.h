// A provider that delivers nothing: it appends each message as one JSON line to a file, for development and
// for tests that read the codes back. Line format:
//   {"to":"+33...","body":"...","provider":"<name>","transport":"sms"|"voice","time":<epoch ms>}
// Supports SMS and voice.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "sms/sms_provider.h"

namespace latchkey {

// Thread-safe, and safe across processes sharing the file: each line is written with a single write(2) on a
// descriptor opened with O_APPEND, so lines never interleave.
class OutboxProvider final : public SmsProvider {
 public:
  // Opens (creating it with mode 0600, and its parent directory, if missing) the file at `path` for
  // appending. Fails with kInternal when the directory cannot be created or the file cannot be opened.
  // `clock` stamps "time"; it must outlive the provider (nullptr: the system clock).
  static Result<std::unique_ptr<OutboxProvider>> open(const std::string& name, const std::string& path,
                                                      const Clock* clock = nullptr);

  ~OutboxProvider() override;
  OutboxProvider(const OutboxProvider&) = delete;
  OutboxProvider& operator=(const OutboxProvider&) = delete;

  const std::string& name() const override { return name_; }
  bool supports(Transport transport) const override { return true; }

  // kSent once the whole line is written; kRetryable when the write fails or is short. Never throws.
  SendResult send(const OutgoingMessage& message) override;

  const std::string& path() const { return path_; }

 private:
  OutboxProvider(std::string name, std::string path, int fd, const Clock* clock);

  const std::string name_;
  const std::string path_;
  const int fd_;  // O_APPEND; written with one write(2) per line, so no lock is needed
  const Clock* clock_;
};

}  // namespace latchkey
