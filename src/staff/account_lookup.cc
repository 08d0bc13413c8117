#include "staff/account_lookup.h"

#include "core/phone_number.h"

namespace latchkey {
namespace {

bool looks_like_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
    } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
      return false;
    }
  }
  return true;
}

nlohmann::json masked_view(const Account& account) {
  nlohmann::json devices = nlohmann::json::array();
  for (const Device& d : account.devices)
    devices.push_back({{"id", d.id}, {"created", d.created_at}, {"lastSeen", d.last_seen_at}});
  return {{"uuid", account.uuid},
          {"number", mask_phone_number(account.number)},
          {"createdAt", account.created_at},
          {"registrationLock", !account.registration_lock_record.empty()},
          {"devices", std::move(devices)}};
}

}  // namespace

AccountLookup::AccountLookup(const StaffConfig& config, AccountStore& accounts, AuditLog& audit, const Clock& clock,
                             MetricsRegistry& metrics)
    : config_(config),
      accounts_(accounts),
      audit_(audit),
      clock_(clock),
      metrics_(metrics),
      limiter_(config.lookups_per_staff, 100'000) {}

Status AccountLookup::take_token(const StaffPrincipal& staff) {
  LimitDecision decision = limiter_.try_acquire(staff.staff_id, clock_.now_ms());
  if (decision.allowed) return {};
  metrics_.counter("latchkey_staff_lookups_refused_total", "Staff lookups refused by staff.lookups_per_staff").inc();
  Error error = make_error(ErrorCode::kRateLimited, "too many account lookups; staff.lookups_per_staff reached");
  error.retry_after = decision.retry_after;
  return error;
}

Result<nlohmann::json> AccountLookup::lookup(const StaffPrincipal& staff, const std::string& query,
                                             const std::string& case_ref) {
  std::optional<Account> account;
  std::string masked_query;
  if (looks_like_uuid(query)) {
    LK_RETURN_IF_ERROR(take_token(staff));
    auto found = accounts_.find_by_uuid(query);
    if (!found.ok()) return found.take_error();
    account = std::move(*found);
    masked_query = query;
  } else {
    auto number = parse_phone_number(query);
    if (!number.ok())
      return make_error(ErrorCode::kMalformedRequest, "q: expected a number in international form or an account uuid");
    LK_RETURN_IF_ERROR(take_token(staff));
    auto found = accounts_.find_by_number(number->e164);
    if (!found.ok()) return found.take_error();
    account = std::move(*found);
    masked_query = mask_phone_number(number->e164);
  }
  metrics_.counter("latchkey_staff_lookups_total", "Account lookups by staff",
                   {{"with_case", case_ref.empty() ? "false" : "true"}})
      .inc();
  auto audited = audit_.record(staff.actor(), "account.lookup", account ? account->uuid : "",
                               {{"query", masked_query}, {"case", case_ref}, {"found", account.has_value()}});
  if (!audited.ok()) return audited.take_error();
  if (!account) return make_error(ErrorCode::kNotFound, "no account matches this query");
  nlohmann::json view = masked_view(*account);
  view["case"] = case_ref;
  return view;
}

Result<nlohmann::json> AccountLookup::unmask(const StaffPrincipal& staff, const std::string& uuid,
                                             const std::string& reason) {
  if (reason.size() < 3 || reason.size() > 500)
    return make_error(ErrorCode::kMalformedRequest, "reason: state why you need the full number (3 to 500 characters)");
  if (!looks_like_uuid(uuid)) return make_error(ErrorCode::kMalformedRequest, "uuid: expected an account uuid");
  LK_RETURN_IF_ERROR(take_token(staff));
  auto found = accounts_.find_by_uuid(uuid);
  if (!found.ok()) return found.take_error();
  if (!found->has_value()) return make_error(ErrorCode::kNotFound, "no such account");
  const Account& account = **found;
  metrics_.counter("latchkey_staff_unmasks_total", "Phone numbers unmasked by staff").inc();
  // The audit entry is written (durably) before the number is shown.
  auto audited = audit_.record(staff.actor(), "account.unmask", account.uuid,
                               {{"number", mask_phone_number(account.number)}, {"reason", reason}});
  if (!audited.ok()) return audited.take_error();
  return nlohmann::json{{"uuid", account.uuid}, {"number", account.number}};
}

}  // namespace latchkey
