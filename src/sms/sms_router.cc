#include "sms/sms_router.h"

#include <algorithm>

#include <chrono>
#include <exception>

#include "core/logging.h"
#include "sms/outbox_provider.h"
#include "sms/twilio_messaging_provider.h"

namespace latchkey {
namespace {

const char* outcome_name(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::kSent:
      return "sent";
    case SendOutcome::kRetryable:
      return "retryable";
    case SendOutcome::kRefused:
      return "refused";
    case SendOutcome::kInvalidNumber:
      return "invalid_number";
  }
  return "retryable";
}

constexpr const char* kSentHelp =
    "Messages handed to SMS/voice providers, by provider, transport and outcome.";
constexpr const char* kSecondsHelp = "Time spent in one SMS/voice provider call, in seconds.";

}  // namespace

SmsRouter::SmsRouter(std::vector<std::unique_ptr<SmsProvider>> providers, SmsRoutingConfig routing,
                     MetricsRegistry& metrics)
    : routing_(std::move(routing)), metrics_(metrics) {
  for (auto& provider : providers) {
    if (provider == nullptr) continue;
    std::string name = provider->name();
    auto entry = std::make_unique<Entry>();
    entry->provider = std::move(provider);
    providers_[name] = std::move(entry);  // a later duplicate name replaces the earlier one
  }
}

Result<std::unique_ptr<SmsRouter>> SmsRouter::from_config(const SmsConfig& config, MetricsRegistry& metrics) {
  std::vector<std::unique_ptr<SmsProvider>> providers;
  std::vector<std::pair<std::string, bool>> enabled;
  for (const SmsProviderConfig& provider_config : config.providers) {
    if (provider_config.kind == "outbox") {
      auto provider = OutboxProvider::open(provider_config.name, provider_config.path);
      if (!provider.ok()) return provider.take_error();
      providers.push_back(std::move(provider.value()));
    } else if (provider_config.kind == "twilio-messaging") {
      auto provider = TwilioMessagingProvider::create(provider_config);
      if (!provider.ok()) return provider.take_error();
      providers.push_back(std::move(provider.value()));
    } else {
      return make_error(ErrorCode::kInternal, "sms provider " + provider_config.name + ": unknown kind \"" +
                                                  provider_config.kind + "\"");
    }
    enabled.emplace_back(provider_config.name, provider_config.enabled);
  }
  auto router = std::make_unique<SmsRouter>(std::move(providers), config.routing, metrics);
  for (const auto& [name, on] : enabled) router->set_enabled(name, on);
  return router;
}

const std::vector<std::string>& SmsRouter::route_for(const std::string& country_code) const {
  auto it = routing_.by_country.find(country_code);
  return it != routing_.by_country.end() ? it->second : routing_.default_route;
}

Result<DeliveryReceipt> SmsRouter::send(const OutgoingMessage& message) { return send_avoiding(message, {}); }

std::vector<std::pair<std::string, bool>> SmsRouter::providers() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& [name, entry] : providers_) out.emplace_back(name, entry->enabled.load(std::memory_order_relaxed));
  return out;
}

Result<DeliveryReceipt> SmsRouter::send_avoiding(const OutgoingMessage& message,
                                                 const std::vector<std::string>& excluded) {
  const char* transport = transport_name(message.transport);
  int tried = 0;
  for (const std::string& name : route_for(message.country_code)) {
    if (std::find(excluded.begin(), excluded.end(), name) != excluded.end()) continue;
    auto it = providers_.find(name);
    if (it == providers_.end()) continue;
    Entry& entry = *it->second;
    if (!entry.enabled.load(std::memory_order_relaxed) || !entry.provider->supports(message.transport))
      continue;

    ++tried;
    auto started = std::chrono::steady_clock::now();
    SendResult result;
    try {
      result = entry.provider->send(message);
    } catch (const std::exception&) {
      // Providers must not throw; treat it as a provider failure. The text could quote the body: not kept.
      result = SendResult{SendOutcome::kRetryable, "", "provider threw an exception"};
    } catch (...) {
      result = SendResult{SendOutcome::kRetryable, "", "provider threw an exception"};
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics_.histogram("latchkey_sms_send_seconds", kSecondsHelp, {{"provider", name}}).observe(seconds);
    metrics_
        .counter("latchkey_sms_sent_total", kSentHelp,
                 {{"provider", name}, {"transport", transport}, {"outcome", outcome_name(result.outcome)}})
        .inc();

    if (result.outcome == SendOutcome::kSent) {
      log::debug("sms_sent", {{"provider", name},
                              {"transport", transport},
                              {"to", log::mask_number(message.to)},
                              {"provider_message_id", result.provider_message_id}});
      return DeliveryReceipt{name, std::move(result.provider_message_id)};
    }
    // Providers may quote the number in their reason (never the body); keep it masked like every number.
    std::string detail = result.detail;
    if (!message.to.empty()) {
      for (std::size_t at = detail.find(message.to); at != std::string::npos;
           at = detail.find(message.to, at)) {
        std::string masked = log::mask_number(message.to);
        detail.replace(at, message.to.size(), masked);
        at += masked.size();
      }
    }
    nlohmann::json fields = {{"provider", name},
                             {"transport", transport},
                             {"to", log::mask_number(message.to)},
                             {"outcome", outcome_name(result.outcome)},
                             {"detail", detail}};
    switch (result.outcome) {
      case SendOutcome::kRefused:
        log::warn("sms_refused", std::move(fields));
        return make_error(ErrorCode::kSmsRefused, "The SMS provider refused to deliver to this number.");
      case SendOutcome::kInvalidNumber:
        log::info("sms_invalid_number", std::move(fields));
        return make_error(ErrorCode::kInvalidNumber, "This number cannot receive the verification message.");
      case SendOutcome::kRetryable:
      case SendOutcome::kSent:
        log::warn("sms_provider_failed", std::move(fields));  // the next provider on the route is tried
        break;
    }
  }
  if (tried == 0) {
    return make_error(ErrorCode::kSmsDeliveryFailed,
                      std::string("No enabled provider can deliver ") + transport + " to this country.");
  }
  return make_error(ErrorCode::kSmsDeliveryFailed, "Delivery failed with all " + std::to_string(tried) +
                                                       " provider" + (tried == 1 ? "" : "s") + " tried.");
}

bool SmsRouter::offers(const std::string& country_code, Transport transport) const {
  for (const std::string& name : route_for(country_code)) {
    auto it = providers_.find(name);
    if (it == providers_.end()) continue;
    const Entry& entry = *it->second;
    if (entry.enabled.load(std::memory_order_relaxed) && entry.provider->supports(transport)) return true;
  }
  return false;
}

bool SmsRouter::set_enabled(const std::string& provider_name, bool enabled) {
  auto it = providers_.find(provider_name);
  if (it == providers_.end()) return false;
  it->second->enabled.store(enabled, std::memory_order_relaxed);
  return true;
}

}  // namespace latchkey
