// The SMS/voice provider contract. A provider delivers one message and reports how it went; it never sees a
// code as such (only message text) and never checks codes. Implementations: outbox_provider.h (development
// and tests) and twilio_messaging_provider.h (Twilio Programmable Messaging over HTTPS).
#pragma once

#include <string>

namespace latchkey {

enum class Transport { kSms, kVoice };

const char* transport_name(Transport t);  // "sms" or "voice"

struct OutgoingMessage {
  std::string to;            // E.164, e.g. "+33612345678"
  std::string country_code;  // calling code of `to`, e.g. "33"
  Transport transport = Transport::kSms;
  std::string body;          // localised text; contains the code, so never log it
};

enum class SendOutcome {
  kSent,           // accepted by the provider
  kRetryable,      // provider error, 5xx, throttling, timeout or unreadable answer: try the next provider
  kRefused,        // provider refused for fraud or geographic permission reasons: stop, try no other
  kInvalidNumber,  // provider says the number cannot receive this message: stop, it is the client's error
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kRetryable;
  std::string provider_message_id;  // e.g. Twilio's "SM..." sid, when sent
  std::string detail;               // short reason for logs; must not contain the message body
};

// Thread-safe: send() is called concurrently from the outbound thread pool and may block up to the
// provider's configured timeout. It never throws.
class SmsProvider {
 public:
  virtual ~SmsProvider() = default;
  virtual const std::string& name() const = 0;
  virtual bool supports(Transport transport) const = 0;
  virtual SendResult send(const OutgoingMessage& message) = 0;
};

}  // namespace latchkey
