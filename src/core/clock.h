// Time source, injected everywhere so tests can move time without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace latchkey {

using Clock_ms = std::chrono::milliseconds;

// Milliseconds since the Unix epoch; the unit every store and wire format uses.
using EpochMillis = std::int64_t;

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochMillis now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  EpochMillis now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to. For tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(EpochMillis start = 1'700'000'000'000) : now_(start) {}
  EpochMillis now_ms() const override { return now_.load(); }
  void advance(std::chrono::milliseconds d) { now_ += d.count(); }
  void set(EpochMillis t) { now_ = t; }

 private:
  std::atomic<EpochMillis> now_;
};

}  // namespace latchkey
