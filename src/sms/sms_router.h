// Chooses providers for a message by the destination's country calling code and fails over between them:
// the route for the calling code (sms.routing."33") or else sms.routing.default, tried in order, skipping
// providers that are disabled or do not support the transport. The next provider is tried after a
// kRetryable result; kRefused and kInvalidNumber stop the walk.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "metrics/metrics.h"
#include "sms/sms_provider.h"

namespace latchkey {

struct DeliveryReceipt {
  std::string provider;             // name of the provider that accepted the message
  std::string provider_message_id;
};

// Thread-safe. send() blocks while providers are called (run it on the outbound pool, never on an I/O thread).
class SmsRouter {
 public:
  // Providers are owned by the router. `routing` names providers by SmsProvider::name().
  SmsRouter(std::vector<std::unique_ptr<SmsProvider>> providers, SmsRoutingConfig routing,
            MetricsRegistry& metrics);

  // Builds providers from configuration (kinds "outbox" and "twilio-messaging"). Fails with kInternal naming
  // the provider whose set-up failed (for example an outbox file that cannot be opened).
  static Result<std::unique_ptr<SmsRouter>> from_config(const SmsConfig& config, MetricsRegistry& metrics);

  // Delivers the message through the first provider on its route that accepts it.
  // Errors: kSmsRefused (a provider refused it), kInvalidNumber (a provider says the number cannot receive it),
  // kSmsDeliveryFailed (every provider failed, or none on the route is enabled and supports the transport).
  // Counts latchkey_sms_sent_total{provider,transport,outcome}.
  Result<DeliveryReceipt> send(const OutgoingMessage& message);

  // As send(), never using a provider named in `excluded` (incident notifications avoid the compromised one).
  Result<DeliveryReceipt> send_avoiding(const OutgoingMessage& message, const std::vector<std::string>& excluded);

  // The names of every configured provider, enabled or not, with their current switch.
  std::vector<std::pair<std::string, bool>> providers() const;

  // True if some enabled provider on the route for `country_code` supports the transport.
  bool offers(const std::string& country_code, Transport transport) const;

  // Turns a provider on or off at runtime (an operator switch). False if no provider has that name.
  bool set_enabled(const std::string& provider_name, bool enabled);

 private:
  struct Entry {
    std::unique_ptr<SmsProvider> provider;
    std::atomic<bool> enabled{true};
  };
  const std::vector<std::string>& route_for(const std::string& country_code) const;

  std::map<std::string, std::unique_ptr<Entry>> providers_;  // by name; the map itself is immutable after construction
  SmsRoutingConfig routing_;
  MetricsRegistry& metrics_;
};

}  // namespace latchkey
