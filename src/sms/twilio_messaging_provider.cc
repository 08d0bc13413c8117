#include "sms/twilio_messaging_provider.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>

namespace latchkey {
namespace {

#ifndef LATCHKEY_VERSION
#define LATCHKEY_VERSION "dev"
#endif

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;  // a Message JSON is about 1 KiB
constexpr std::size_t kMaxReasonChars = 160;        // Twilio's error message, as kept in detail

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One easy handle per thread, reused (after curl_easy_reset) so its connection cache keeps Twilio's
// connection alive between sends.
class ThreadCurl {
 public:
  ~ThreadCurl() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CURL* get() {
    if (handle_ == nullptr) {
      init_curl_once();
      handle_ = curl_easy_init();
    } else {
      curl_easy_reset(handle_);
    }
    return handle_;
  }

 private:
  CURL* handle_ = nullptr;
};

CURL* thread_curl() {
  thread_local ThreadCurl curl;
  return curl.get();
}

struct CurlList {
  curl_slist* list = nullptr;
  ~CurlList() { curl_slist_free_all(list); }
  void append(const char* header) {
    curl_slist* next = curl_slist_append(list, header);
    if (next != nullptr) list = next;
  }
};

struct Answer {
  std::string body;
  bool too_large = false;
};

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* answer = static_cast<Answer*>(user);
  size_t n = size * count;
  if (answer->body.size() + n > kMaxAnswerBytes) {
    answer->too_large = true;
    return 0;  // aborts the transfer
  }
  answer->body.append(data, n);
  return n;
}

std::string escape(CURL* curl, std::string_view value) {
  char* escaped = curl_easy_escape(curl, value.data(), static_cast<int>(value.size()));
  if (escaped == nullptr) throw std::bad_alloc();
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

void add_field(CURL* curl, std::string& form, std::string_view key, std::string_view value) {
  if (!form.empty()) form += '&';
  form += key;
  form += '=';
  form += escape(curl, value);
}

SendOutcome outcome_for_code(long code) {
  switch (code) {
    case 30450:  // message blocked by SMS pumping protection
    case 60410:  // number prefix blocked for fraud
    case 60605:  // geographic permissions
    case 21408:  // permission to send to this region not enabled
      return SendOutcome::kRefused;
    case 21211:  // invalid 'To' number
    case 21614:  // 'To' is not a mobile number
      return SendOutcome::kInvalidNumber;
    default:  // 20429 (too many requests) and anything unknown
      return SendOutcome::kRetryable;
  }
}

// Keeps a short single-line version of Twilio's error message.
std::string short_reason(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  if (text.size() > kMaxReasonChars) {
    text.resize(kMaxReasonChars);
    // Do not cut a UTF-8 sequence in half.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && (static_cast<unsigned char>(text.back()) & 0x80) != 0) text.pop_back();
    text += "...";
  }
  return text;
}

SendResult retryable(std::string detail) {
  SendResult result;
  result.outcome = SendOutcome::kRetryable;
  result.detail = std::move(detail);
  return result;
}

SendResult interpret(long http_status, const std::string& body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  bool is_object = json.is_object();
  std::string status_text = "HTTP " + std::to_string(http_status);

  if (http_status == 200 || http_status == 201) {
    if (!is_object || !json.contains("sid") || !json["sid"].is_string()) {
      return retryable("unreadable twilio answer (" + status_text + ")");
    }
    std::string sid = json["sid"].get<std::string>();
    std::string status =
        json.contains("status") && json["status"].is_string() ? json["status"].get<std::string>() : "";
    if (status == "failed" || status == "undelivered") {
      SendResult result = retryable("twilio message " + sid + " " + status);
      result.provider_message_id = sid;
      return result;
    }
    SendResult result;
    result.outcome = SendOutcome::kSent;
    result.provider_message_id = std::move(sid);
    result.detail = status.empty() ? "sent" : status;
    return result;
  }

  if (!is_object || !json.contains("code") || !json["code"].is_number_integer()) {
    return retryable("twilio " + status_text + " without an error code");
  }
  long code = json["code"].get<long>();
  std::string reason = json.contains("message") && json["message"].is_string()
                           ? short_reason(json["message"].get<std::string>())
                           : std::string("no message");
  SendResult result;
  result.outcome =
      (http_status >= 500 || http_status == 429) ? SendOutcome::kRetryable : outcome_for_code(code);
  result.detail = "twilio error " + std::to_string(code) + " (" + status_text + "): " + reason;
  return result;
}

}  // namespace

Result<std::unique_ptr<TwilioMessagingProvider>> TwilioMessagingProvider::create(
    const SmsProviderConfig& config) {
  auto fail = [&](const std::string& what) -> Error {
    return make_error(ErrorCode::kInternal, "sms provider " + config.name + ": " + what);
  };
  if (config.account_sid.empty()) return fail("account_sid is required");
  if (config.auth_token.empty()) return fail("auth_token is required");
  if (config.api_base.empty()) return fail("api_base is required");
  if (config.from.empty() && config.messaging_service_sid.empty()) {
    return fail("from or messaging_service_sid is required");
  }
  if (config.timeout.count() <= 0) return fail("timeout must be positive");
  init_curl_once();
  return std::unique_ptr<TwilioMessagingProvider>(new TwilioMessagingProvider(config));
}

TwilioMessagingProvider::TwilioMessagingProvider(const SmsProviderConfig& config)
    : name_(config.name),
      account_sid_(config.account_sid),
      auth_token_(config.auth_token),
      from_(config.from),
      messaging_service_sid_(config.messaging_service_sid),
      url_([&] {
        std::string base = config.api_base;
        while (!base.empty() && base.back() == '/') base.pop_back();
        return base + "/2010-04-01/Accounts/" + config.account_sid + "/Messages.json";
      }()),
      timeout_(config.timeout) {}

SendResult TwilioMessagingProvider::send(const OutgoingMessage& message) {
  try {
    return send_or_throw(message);
  } catch (const std::exception&) {
    return retryable("twilio send failed unexpectedly");
  } catch (...) {
    return retryable("twilio send failed unexpectedly");
  }
}

SendResult TwilioMessagingProvider::send_or_throw(const OutgoingMessage& message) {
  if (message.transport != Transport::kSms) return retryable("twilio messaging does not place voice calls");
  CURL* curl = thread_curl();
  if (curl == nullptr) return retryable("curl_easy_init failed");

  std::string form;
  add_field(curl, form, "To", message.to);
  if (!messaging_service_sid_.empty()) {
    add_field(curl, form, "MessagingServiceSid", messaging_service_sid_);
  } else {
    add_field(curl, form, "From", from_);
  }
  add_field(curl, form, "Body", message.body);

  CurlList headers;
  headers.append("Accept: application/json");
  headers.append("Content-Type: application/x-www-form-urlencoded");
  headers.append("Expect:");  // no 100-continue round trip for long bodies

  Answer answer;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  long timeout_ms = static_cast<long>(timeout_.count());

  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
  curl_easy_setopt(curl, CURLOPT_USERNAME, account_sid_.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, auth_token_.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "latchkey/" LATCHKEY_VERSION);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);

  CURLcode rc = curl_easy_perform(curl);
  // The buffers above die with this frame; the handle outlives it.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);

  if (rc == CURLE_OPERATION_TIMEDOUT) return retryable("timeout after " + std::to_string(timeout_ms) + " ms");
  if (rc == CURLE_WRITE_ERROR && answer.too_large) return retryable("twilio answer too large");
  if (rc != CURLE_OK) {
    std::string reason = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
    return retryable("twilio request failed: " + short_reason(reason));
  }
  long http_status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  return interpret(http_status, answer.body);
}

}  // namespace latchkey
