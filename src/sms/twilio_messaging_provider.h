// Sends SMS through Twilio Programmable Messaging: POST
// {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json with a form-encoded To, Body and From (or
// MessagingServiceSid), authenticated with HTTP Basic AccountSid:AuthToken. SMS only: supports(kVoice) is
// false.
//
// How answers map to outcomes:
//   200/201 with a Message JSON (sid, status)          -> kSent, provider_message_id = sid
//     ... but status "failed" or "undelivered"         -> kRetryable
//   error JSON code 30450, 60410, 60605, 21408         -> kRefused (fraud or geographic permissions)
//   error JSON code 21211, 21614                       -> kInvalidNumber
//   any other code (20429 included), 429, 5xx, a timeout, a connection failure or an unreadable answer
//                                                      -> kRetryable
// SendResult::detail is a short reason ("twilio error 21211: ...", "timeout after 5000 ms") and never holds
// the message body.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "sms/sms_provider.h"

namespace latchkey {

// Thread-safe: send() may be called from many threads at once. Each thread keeps its own libcurl handle so
// connections to Twilio are kept alive between messages sent from that thread. send() blocks for at most the
// configured timeout (connection included) and never throws.
class TwilioMessagingProvider final : public SmsProvider {
 public:
  // Checks that account_sid, auth_token, api_base and one of from / messaging_service_sid are set and that
  // the timeout is positive; fails with kInternal naming the provider and the missing field otherwise.
  static Result<std::unique_ptr<TwilioMessagingProvider>> create(const SmsProviderConfig& config);

  const std::string& name() const override { return name_; }
  bool supports(Transport transport) const override { return transport == Transport::kSms; }
  SendResult send(const OutgoingMessage& message) override;

 private:
  explicit TwilioMessagingProvider(const SmsProviderConfig& config);

  SendResult send_or_throw(const OutgoingMessage& message);

  const std::string name_;
  const std::string account_sid_;
  const std::string auth_token_;
  const std::string from_;
  const std::string messaging_service_sid_;
  const std::string url_;  // the Messages.json endpoint
  const std::chrono::milliseconds timeout_;
};

}  // namespace latchkey
