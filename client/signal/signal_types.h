// RAII holders for libsignal-protocol-c objects and buffers, and conversions to std::string.
#pragma once

#include <signal_protocol.h>

#include <string>
#include <string_view>

namespace latchkey::client {

// Owns one reference to a libsignal reference-counted object (ec_public_key, session_pre_key, ...).
template <class T>
class SignalRef {
 public:
  SignalRef() = default;
  explicit SignalRef(T* p) : p_(p) {}
  ~SignalRef() { reset(); }
  SignalRef(SignalRef&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  SignalRef& operator=(SignalRef&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  SignalRef(const SignalRef&) = delete;
  SignalRef& operator=(const SignalRef&) = delete;

  T* get() const { return p_; }
  T** out() {
    reset();
    return &p_;
  }
  explicit operator bool() const { return p_ != nullptr; }
  void reset() {
    if (p_) SIGNAL_UNREF(p_);
    p_ = nullptr;
  }

 private:
  T* p_ = nullptr;
};

// Owns a signal_buffer; wipes it when freed (it may hold key material).
class SignalBuffer {
 public:
  SignalBuffer() = default;
  explicit SignalBuffer(signal_buffer* b) : b_(b) {}
  ~SignalBuffer() {
    if (b_) signal_buffer_bzero_free(b_);
  }
  SignalBuffer(const SignalBuffer&) = delete;
  SignalBuffer& operator=(const SignalBuffer&) = delete;

  signal_buffer** out() {
    if (b_) signal_buffer_bzero_free(b_);
    b_ = nullptr;
    return &b_;
  }
  signal_buffer* get() const { return b_; }
  std::string str() const {
    if (!b_) return {};
    return std::string(reinterpret_cast<const char*>(signal_buffer_data(b_)), signal_buffer_len(b_));
  }

 private:
  signal_buffer* b_ = nullptr;
};

inline const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace latchkey::client
