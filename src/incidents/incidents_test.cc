// Incident response: breach reports, notification languages, and whole executions on a real SQLite database
// with outbox providers (unregistration, one notification per user through a non-compromised provider, re-runs,
// resuming an interrupted run).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "incidents/breach_report.h"
#include "incidents/incident_report.h"
#include "incidents/incident_service.h"
#include "incidents/notification_message.h"
#include "sms/outbox_provider.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

constexpr EpochMillis kStart = 1'763'000'000'000;

TEST(BreachReportTest, CsvWithHeaderSingleColumnAndJson) {
  auto with_header = parse_breach_report("csv", "id;Phone;seen\n1;+33 6 12 34 56 78;x\n2;\"+33612345678\";y\n3;nope;z\n", 100);
  ASSERT_TRUE(with_header.ok()) << with_header.error().message;
  EXPECT_EQ(with_header->numbers, std::vector<std::string>{"+33612345678"});  // duplicates merged
  ASSERT_EQ(with_header->problems.size(), 1u);
  EXPECT_EQ(with_header->problems[0].rfind("line 4:", 0), 0u) << with_header->problems[0];

  auto single = parse_breach_report("csv", "+4915112345678\r\n\r\n+33612345679\n", 100);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->numbers, (std::vector<std::string>{"+4915112345678", "+33612345679"}));

  auto json = parse_breach_report("json", R"({"numbers": ["+33612345678", "+81312345678"]})", 100);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->numbers.size(), 2u);
  auto array = parse_breach_report("json", R"(["+33612345678"])", 100);
  ASSERT_TRUE(array.ok());
}

TEST(BreachReportTest, BadReportsAreRefusedWithAReason) {
  EXPECT_EQ(parse_breach_report("xml", "+33612345678", 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(parse_breach_report("json", "{", 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(parse_breach_report("json", R"({"numbers": [5]})", 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(parse_breach_report("csv", "name,city\nbob,paris\n", 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(parse_breach_report("csv", "", 10).error().code, ErrorCode::kMalformedRequest);
  auto too_many = parse_breach_report("csv", "+33612345678\n+33612345679\n+33612345670\n", 2);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("max_report_numbers"), std::string::npos);
}

TEST(NotificationMessageTest, LanguageFollowsTheCountry) {
  EXPECT_EQ(notification_language("FR", "en"), "fr");
  EXPECT_EQ(notification_language("BE", "en"), "fr");
  EXPECT_EQ(notification_language("DE", "en"), "de");
  EXPECT_EQ(notification_language("AT", "en"), "de");
  EXPECT_EQ(notification_language("MX", "en"), "es");
  EXPECT_EQ(notification_language("JP", "en"), "ja");
  EXPECT_EQ(notification_language("US", "fr"), "en");
  EXPECT_EQ(notification_language("BR", "en"), "en");  // no Portuguese template: the configured default
  for (const char* language : {"en", "fr", "ja", "es", "de"}) {
    std::string text = notification_text(language, "https://help.example/x");
    EXPECT_NE(text.find("https://help.example/x"), std::string::npos) << language;
    EXPECT_NE(text.find("Latchkey"), std::string::npos) << language;
  }
  EXPECT_EQ(notification_text("xx", "u"), notification_text("en", "u"));
}

// Records entries in memory: these tests are about incidents, not the chain (audit/audit_test.cc).
class RecordingAudit final : public AuditLog {
 public:
  Result<std::int64_t> record(const std::string& actor, const std::string& action, const std::string& target,
                              nlohmann::json details) override {
    std::lock_guard lock(mutex_);
    AuditEntry e;
    e.seq = static_cast<std::int64_t>(entries.size()) + 1;
    e.actor = actor;
    e.action = action;
    e.target = target;
    e.details = std::move(details);
    entries.push_back(e);
    return e.seq;
  }
  Result<std::vector<AuditEntry>> list(std::int64_t, int) override { return entries; }
  std::vector<std::string> actions() {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.action);
    return out;
  }
  std::vector<AuditEntry> entries;
  std::mutex mutex_;
};

class IncidentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "latchkey-incidents-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    open();
    config_.support_url = "https://help.example/breach";
    config_.batch_size = 2;
    config_.notify_parallelism = 3;
  }
  void TearDown() override {
    service_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  void open() {
    service_.reset();
    router_.reset();
    storage_.reset();
    StorageConfig config;
    config.sqlite_path = dir_ + "/latchkey.db";
    auto opened = open_storage(config);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    storage_ = std::move(opened.value());
    std::vector<std::unique_ptr<SmsProvider>> providers;
    for (const char* name : {"phished", "clean"}) {
      auto outbox = OutboxProvider::open(name, dir_ + "/" + name + ".jsonl", &clock_);
      ASSERT_TRUE(outbox.ok());
      providers.push_back(std::move(outbox.value()));
    }
    SmsRoutingConfig routing;
    routing.default_route = {"phished", "clean"};
    router_ = std::make_unique<SmsRouter>(std::move(providers), routing, metrics_);
    service_ = std::make_unique<IncidentService>(config_, storage_->incidents(), storage_->sessions(), *router_,
                                                 audit_, clock_, random_, metrics_);
    service_->set_unregistered_listener([this](const std::string& uuid) { closed_.push_back(uuid); });
  }

  std::string account(const std::string& number) {
    Device device;
    device.id = 1;
    device.password_hash = "x";
    device.registration_id = 7;
    auto created = storage_->accounts().create_or_replace(number, "uuid-" + number, device, clock_.now_ms(), "phished");
    EXPECT_TRUE(created.ok());
    return created->account.uuid;
  }

  std::vector<nlohmann::json> outbox(const std::string& name) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(dir_ + "/" + name + ".jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  Incident approved_incident(const std::string& csv) {
    std::vector<std::string> problems;
    auto incident = service_->create_from_report(alice_, "breach", kStart - 1000, kStart + 1'000'000, "csv", csv,
                                                 &problems);
    EXPECT_TRUE(incident.ok()) << incident.error().message;
    EXPECT_TRUE(service_->approve(bob_, incident->id).ok());
    return *incident;
  }

  std::string dir_;
  IncidentsConfig config_;
  ManualClock clock_{kStart};
  SodiumRandom random_;
  MetricsRegistry metrics_;
  RecordingAudit audit_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<SmsRouter> router_;
  std::unique_ptr<IncidentService> service_;
  std::vector<std::string> closed_;
  StaffPrincipal alice_{"alice-id", "Alice", StaffRole::kResponder};
  StaffPrincipal bob_{"bob-id", "Bob", StaffRole::kResponder};
};

TEST_F(IncidentServiceTest, TwoPersonRuleAndStates) {
  account("+33612345678");
  std::vector<std::string> problems;
  auto incident = service_->create_from_report(alice_, "breach", kStart - 1, kStart + 1, "csv", "+33612345678\n",
                                               &problems);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(service_->approve(alice_, incident->id).error().code, ErrorCode::kForbidden);
  EXPECT_EQ(service_->execute(bob_, incident->id).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(service_->approve(bob_, incident->id).ok());
  EXPECT_EQ(service_->approve(bob_, incident->id).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(service_->cancel(alice_, incident->id).ok());
  EXPECT_EQ(service_->execute(bob_, incident->id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(service_->approve(bob_, "nope").error().code, ErrorCode::kNotFound);
}

TEST_F(IncidentServiceTest, ExecutionUnregistersAndNotifiesOnceThroughACleanProvider) {
  const std::vector<std::string> numbers = {"+33612345678", "+4915112345678", "+81312345678", "+33612345679",
                                            "+33612345670"};
  for (const auto& n : numbers) account(n);
  auto marked = service_->mark_compromised(alice_, "phished", kStart - 500, "ticket");
  ASSERT_TRUE(marked.ok()) << marked.error().message;
  EXPECT_EQ((*marked)["suspects"], 5);
  Incident incident = approved_incident("+33612345678\n+4915112345678\n+81312345678\n+33612345679\n+12025550123\n");
  ASSERT_TRUE(service_->execute(bob_, incident.id).ok());
  service_.reset();  // joins the background run
  open();
  auto progress = service_->progress(incident.id);
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->incident.state, "completed");
  EXPECT_EQ(progress->counts.targets, 5);
  EXPECT_EQ(progress->counts.with_account, 4);
  EXPECT_EQ(progress->counts.unregistered, 4);
  EXPECT_EQ(progress->counts.notified, 4);

  // Devices gone for the four, kept for the account not in the report.
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(storage_->accounts().find_device("uuid-" + numbers[i], 1)->has_value()) << numbers[i];
  EXPECT_TRUE(storage_->accounts().find_device("uuid-+33612345670", 1)->has_value());
  EXPECT_TRUE(outbox("phished").empty());
  auto notes = outbox("clean");
  ASSERT_EQ(notes.size(), 4u);
  std::map<std::string, std::string> by_number;
  for (const auto& n : notes) by_number[n["to"]] = n["body"];
  EXPECT_NE(by_number["+4915112345678"].find("Sicherheitshinweis"), std::string::npos);
  EXPECT_NE(by_number["+81312345678"].find("セキュリティ"), std::string::npos);
  EXPECT_NE(by_number["+33612345678"].find("https://help.example/breach"), std::string::npos);

  // A re-run (after an approval it is allowed from "completed") sends nothing more.
  ASSERT_TRUE(service_->execute(bob_, incident.id).ok());
  service_.reset();
  open();
  EXPECT_EQ(outbox("clean").size(), 4u);
  EXPECT_EQ(service_->progress(incident.id)->incident.state, "completed");
}

TEST_F(IncidentServiceTest, AnInterruptedRunResumesWhereItStopped) {
  for (const char* n : {"+33612345678", "+33612345679", "+33612345670"}) account(n);
  Incident incident = approved_incident("+33612345678\n+33612345679\n+33612345670\n");
  // Simulate a crash after the first batch: the run is marked running, two targets are unregistered, nobody
  // was notified yet.
  ASSERT_TRUE(storage_->incidents().transition(incident.id, "approved", "running", "", clock_.now_ms()).ok());
  auto batch = storage_->incidents().pending_unregistration(incident.id, 2);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(storage_->incidents().unregister_targets(incident.id, *batch, clock_.now_ms()).ok());
  open();  // "restart"
  ASSERT_TRUE(service_->resume().ok());
  service_.reset();
  open();
  auto progress = service_->progress(incident.id);
  EXPECT_EQ(progress->incident.state, "completed");
  EXPECT_EQ(progress->counts.unregistered, 3);
  EXPECT_EQ(progress->counts.notified, 3);
}

TEST_F(IncidentServiceTest, CompromiseEndsOpenSessionsOfThatProviderOnly) {
  auto session = [&](const std::string& id, const std::string& provider, EpochMillis consumed) {
    VerificationSession s;
    s.id = id;
    s.number = "+33612345678";
    s.country_code = "33";
    s.created_at = clock_.now_ms();
    s.expires_at = clock_.now_ms() + 600'000;
    s.code_hash = "hash";
    s.code_expires_at = clock_.now_ms() + 600'000;
    s.last_provider = provider;
    s.consumed_at = consumed;
    ASSERT_TRUE(storage_->sessions().insert(s).ok());
  };
  session("open-phished", "phished", 0);
  session("open-clean", "clean", 0);
  session("used-phished", "phished", clock_.now_ms());
  auto marked = service_->mark_compromised(alice_, "phished", kStart - 1, "");
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ((*marked)["invalidatedSessions"], 1);
  auto ended = storage_->sessions().find("open-phished");
  EXPECT_LE((*ended)->expires_at, clock_.now_ms());
  EXPECT_TRUE((*ended)->code_hash.empty());
  EXPECT_GT((*storage_->sessions().find("open-clean"))->expires_at, clock_.now_ms());
  // Routing skips it at once, and after a restart (resume) too.
  EXPECT_TRUE(router_->offers("33", Transport::kSms));  // through "clean"
  open();
  ASSERT_TRUE(service_->resume().ok());
  for (const auto& [name, enabled] : router_->providers()) EXPECT_EQ(enabled, name != "phished") << name;
  EXPECT_EQ(service_->mark_compromised(alice_, "nope", kStart - 1, "").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_->mark_compromised(alice_, "clean", kStart + 10'000'000, "").error().code,
            ErrorCode::kMalformedRequest);
  ASSERT_TRUE(service_->restore_provider(alice_, "phished").ok());
  EXPECT_EQ(service_->restore_provider(alice_, "phished").error().code, ErrorCode::kNotFound);
  auto actions = audit_.actions();
  EXPECT_NE(std::find(actions.begin(), actions.end(), "provider.compromise"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "provider.restore"), actions.end());
}

TEST_F(IncidentServiceTest, EveryRegistrationIsLoggedWithItsCodeProviderInItsTransaction) {
  Device device;
  device.password_hash = "x";
  const EpochMillis first = clock_.now_ms();
  ASSERT_TRUE(storage_->accounts().create_or_replace("+33612345678", "uuid-a", device, first, "clean").ok());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(storage_->accounts().create_or_replace("+33612345678", "uuid-b", device, clock_.now_ms(), "phished").ok());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(storage_->accounts().create_or_replace("+33612345679", "uuid-c", device, clock_.now_ms(), "").ok());

  auto phished = storage_->incidents().registrations_through("phished", 0, 10);
  ASSERT_TRUE(phished.ok());
  ASSERT_EQ(phished->size(), 1u);
  EXPECT_EQ((*phished)[0].number, "+33612345678");
  EXPECT_EQ((*phished)[0].uuid, "uuid-a");  // the uuid is kept across re-registration
  EXPECT_TRUE((*phished)[0].replaced_existing);
  EXPECT_EQ((*phished)[0].account_created_at, first);
  EXPECT_EQ((*phished)[0].at, first + 10'000);
  EXPECT_EQ(storage_->incidents().registrations_through("clean", 0, 10)->size(), 1u);
  EXPECT_EQ(storage_->incidents().registrations_through("", 0, 10)->size(), 1u);  // recovery password
  // Suspects are only those since the breach began.
  ASSERT_TRUE(service_->mark_compromised(alice_, "phished", first + 10'001, "").ok());
  EXPECT_TRUE(service_->suspects("phished")->empty());
  EXPECT_EQ(service_->suspects("clean").error().code, ErrorCode::kNotFound);
}

TEST_F(IncidentServiceTest, ImpactIsComputedPerNumberAtCreation) {
  // Registered long before the window, with a Registration Lock: its owner is probably still the owner.
  const std::string old_uuid = account("+4915112345678");
  ASSERT_TRUE(storage_->accounts().set_registration_lock(old_uuid, "lock-record").ok());
  clock_.advance(std::chrono::hours(24));
  const EpochMillis window_start = clock_.now_ms();
  account("+81312345678");  // registered in the window
  clock_.advance(std::chrono::hours(1));
  std::vector<std::string> problems;
  auto incident = service_->create_from_report(alice_, "breach", window_start, clock_.now_ms(), "csv",
                                               "phone\n+4915112345678\n+81312345678\n+33612345678\nbad\n+81 3 1234 5678\n",
                                               &problems);
  ASSERT_TRUE(incident.ok()) << incident.error().message;
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("line 5:", 0), 0u) << problems[0];
  auto targets = service_->targets(incident->id);
  ASSERT_TRUE(targets.ok());
  ASSERT_EQ(targets->size(), 3u);  // the duplicate merged
  std::map<std::string, IncidentTarget> by_number;
  for (const auto& t : *targets) by_number[t.number] = t;
  EXPECT_TRUE(by_number["+4915112345678"].has_account);
  EXPECT_FALSE(by_number["+4915112345678"].registered_in_window);
  EXPECT_TRUE(by_number["+4915112345678"].has_registration_lock);
  EXPECT_EQ(by_number["+4915112345678"].language, "de");
  EXPECT_TRUE(by_number["+81312345678"].has_account);
  EXPECT_TRUE(by_number["+81312345678"].registered_in_window);
  EXPECT_FALSE(by_number["+81312345678"].has_registration_lock);
  EXPECT_EQ(by_number["+81312345678"].language, "ja");
  EXPECT_FALSE(by_number["+33612345678"].has_account);
  EXPECT_EQ(by_number["+33612345678"].language, "fr");
  auto counts = service_->progress(incident->id)->counts;
  EXPECT_EQ(counts.targets, 3);
  EXPECT_EQ(counts.with_account, 2);
  EXPECT_EQ(counts.registered_in_window, 1);
  EXPECT_EQ(counts.with_registration_lock, 1);
  auto actions = audit_.actions();
  EXPECT_NE(std::find(actions.begin(), actions.end(), "incident.create"), actions.end());
}

TEST_F(IncidentServiceTest, FromSuspectsThenReportShowsReregistrations) {
  account("+33612345678");
  account("+33612345679");
  ASSERT_TRUE(service_->mark_compromised(alice_, "phished", kStart - 1, "").ok());
  EXPECT_EQ(service_->create_from_provider(alice_, "x", "clean").error().code, ErrorCode::kNotFound);
  auto incident = service_->create_from_provider(alice_, "suspects of phished", "phished");
  ASSERT_TRUE(incident.ok()) << incident.error().message;
  EXPECT_EQ(incident->provider, "phished");
  ASSERT_TRUE(service_->approve(bob_, incident->id).ok());
  ASSERT_TRUE(service_->execute(bob_, incident->id).ok());
  service_.reset();
  open();
  // The owner registers again afresh, through the clean provider.
  clock_.advance(std::chrono::minutes(5));
  Device device;
  device.password_hash = "y";
  ASSERT_TRUE(storage_->accounts().create_or_replace("+33612345678", "ignored", device, clock_.now_ms(), "clean").ok());
  auto progress = service_->progress(incident->id);
  EXPECT_EQ(progress->counts.unregistered, 2);
  EXPECT_EQ(progress->counts.notified, 2);
  EXPECT_EQ(progress->counts.reregistered, 1);
  auto targets = service_->targets(incident->id);
  ASSERT_TRUE(targets.ok());
  const std::string csv = incident_report_csv(*targets);
  EXPECT_EQ(csv.rfind("number,has_account,", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  nlohmann::json json = incident_report_json(*targets);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["number"], "+33612345678");
  EXPECT_GT(json[0]["reregisteredAt"].get<EpochMillis>(), json[0]["unregisteredAt"].get<EpochMillis>());
  EXPECT_EQ(json[0]["notifyProvider"], "clean");
  EXPECT_FALSE(json[0]["notifyMessageId"].get<std::string>().empty());
  EXPECT_EQ(json[1]["reregisteredAt"], 0);
}

TEST_F(IncidentServiceTest, ExecutionClosesSocketsOfEveryUnregisteredAccount) {
  const std::string a = account("+33612345678");
  const std::string b = account("+33612345679");
  account("+33612345670");
  Incident incident = approved_incident("+33612345678\n+33612345679\n");
  ASSERT_TRUE(service_->execute(bob_, incident.id).ok());
  service_.reset();
  std::sort(closed_.begin(), closed_.end());
  EXPECT_EQ(closed_, (std::vector<std::string>{a, b}));
}

TEST_F(IncidentServiceTest, WithoutACleanProviderNobodyIsNotifiedAndARerunRetries) {
  account("+33612345678");
  account("+33612345679");
  ASSERT_TRUE(service_->mark_compromised(alice_, "phished", kStart - 1, "").ok());
  ASSERT_TRUE(service_->mark_compromised(alice_, "clean", kStart - 1, "").ok());
  Incident incident = approved_incident("+33612345678\n+33612345679\n");
  ASSERT_TRUE(service_->execute(bob_, incident.id).ok());
  service_.reset();
  open();
  auto progress = service_->progress(incident.id);
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->incident.state, "completed");
  EXPECT_EQ(progress->counts.unregistered, 2);  // the attacker is out even though nobody could be told
  EXPECT_EQ(progress->counts.notified, 0);
  EXPECT_EQ(progress->counts.failed, 2);
  ASSERT_EQ(progress->errors.size(), 2u);
  EXPECT_FALSE(progress->errors[0].last_error.empty());
  EXPECT_TRUE(outbox("phished").empty());
  EXPECT_TRUE(outbox("clean").empty());

  ASSERT_TRUE(service_->restore_provider(alice_, "clean").ok());
  ASSERT_TRUE(service_->execute(bob_, incident.id).ok());
  service_.reset();
  open();
  progress = service_->progress(incident.id);
  EXPECT_EQ(progress->counts.notified, 2);
  EXPECT_EQ(progress->counts.failed, 0);
  EXPECT_TRUE(progress->errors.empty());
  EXPECT_EQ(outbox("clean").size(), 2u);
  EXPECT_TRUE(outbox("phished").empty());
}

TEST(IncidentReportTest, CsvQuotesAndDefusesFormulas) {
  IncidentTarget t;
  t.number = "+33612345678";
  t.has_account = true;
  t.last_error = "=HYPERLINK(\"x\"),1";
  const std::string csv = incident_report_csv({t});
  EXPECT_NE(csv.find("\n+33612345678,1,0,0,0,0,,,0,\"'=HYPERLINK(\"\"x\"\"),1\"\n"), std::string::npos) << csv;
}

}  // namespace
}  // namespace latchkey
