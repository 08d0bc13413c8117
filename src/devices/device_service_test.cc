#include "devices/device_service.h"

#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/random.h"
#include "crypto/secret_hash.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

using namespace std::chrono_literals;

constexpr char kPassword[] = "a-linked-device-password";

class DeviceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("dev");
    storage_ = open_test_storage(dir_);
    ASSERT_TRUE(storage_);
    config_.max_linked_devices = 2;
    config_.link_code_ttl = 10min;
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    devices_ = std::make_unique<DeviceService>(config_, accounts_config_, *storage_, *limits_, clock_, random_);
    devices_->set_devices_removed_listener([this](const std::string& uuid, std::optional<std::uint32_t> device_id) {
      removed_.emplace_back(uuid, device_id);
    });
    uuid_ = create("+33611111111");
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }

  std::string create(const std::string& number) {
    Device primary;
    primary.password_hash = hash_password(random_, "the-primary-password");
    primary.registration_id = 1;
    auto record = storage_->accounts().create_or_replace(number, new_uuid(random_), primary, clock_.now_ms());
    EXPECT_TRUE(record.ok()) << record.error().message;
    return record.ok() ? record->account.uuid : "";
  }

  AuthenticatedDevice as(const std::string& uuid, std::uint32_t device_id) {
    AuthenticatedDevice caller;
    caller.uuid = uuid;
    caller.device.id = device_id;
    auto account = storage_->accounts().find_by_uuid(uuid);
    if (account.ok() && account->has_value())
      for (const Device& d : (*account)->devices) caller.account_device_ids.push_back(d.id);
    return caller;
  }

  std::string issue(const std::string& uuid) {
    auto code = devices_->issue_link_code(as(uuid, 1));
    EXPECT_TRUE(code.ok()) << code.error().message;
    return code.ok() ? code->code : "";
  }

  LinkRequest request(const std::string& code, std::int64_t registration_id = 500, std::string name = "phone",
                      std::string ip = "192.0.2.1") {
    return LinkRequest{code, kPassword, registration_id, std::move(name), std::move(ip)};
  }

  std::vector<std::uint32_t> device_ids(const std::string& uuid) {
    auto listed = devices_->list(as(uuid, 1));
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::uint32_t> ids;
    if (listed.ok())
      for (const Device& d : *listed) ids.push_back(d.id);
    return ids;
  }

  void expect_error(const Status& status, ErrorCode code) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, code) << status.error().message;
  }
  template <class T>
  void expect_error(const Result<T>& result, ErrorCode code) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, code) << result.error().message;
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  DevicesConfig config_;
  AccountsConfig accounts_config_;
  LimitsConfig limits_config_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<DeviceService> devices_;
  std::string uuid_;
  std::vector<std::pair<std::string, std::optional<std::uint32_t>>> removed_;
};

TEST_F(DeviceServiceTest, LinkCodesAreRandomAndOnlyForThePrimary) {
  auto code = devices_->issue_link_code(as(uuid_, 1));
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code->code.size(), 43u);
  EXPECT_EQ(code->code.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(code->ttl, config_.link_code_ttl);
  EXPECT_NE(issue(uuid_), code->code);

  ASSERT_TRUE(devices_->link(request(code->code)).ok());
  expect_error(devices_->issue_link_code(as(uuid_, 2)), ErrorCode::kForbidden);
  expect_error(devices_->issue_link_code(as("no-such-account", 1)), ErrorCode::kNotFound);
}

TEST_F(DeviceServiceTest, LinkingAddsADeviceWithTheLowestFreeId) {
  auto linked = devices_->link(request(issue(uuid_), 777, "tablet"));
  ASSERT_TRUE(linked.ok()) << linked.error().message;
  EXPECT_EQ(linked->uuid, uuid_);
  EXPECT_EQ(linked->device_id, 2u);

  auto listed = devices_->list(as(uuid_, 1));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  const Device& device = (*listed)[1];
  EXPECT_EQ(device.id, 2u);
  EXPECT_EQ(device.registration_id, 777);
  EXPECT_EQ(device.name, "tablet");
  EXPECT_EQ(device.created_at, clock_.now_ms());
  EXPECT_TRUE(verify_password(device.password_hash, kPassword));
  EXPECT_EQ(device.password_hash.find(kPassword), std::string::npos);

  auto found = storage_->accounts().find_device(uuid_, 2);
  ASSERT_TRUE(found.ok() && found->has_value());
}

TEST_F(DeviceServiceTest, ACodeIsConsumedOnce) {
  std::string code = issue(uuid_);
  ASSERT_TRUE(devices_->link(request(code)).ok());
  expect_error(devices_->link(request(code, 501)), ErrorCode::kForbidden);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(DeviceServiceTest, UnknownCodesAreForbidden) {
  issue(uuid_);
  expect_error(devices_->link(request("not-a-code-anyone-issued-xxxxxxxxxxxxxxxxx")), ErrorCode::kForbidden);
  expect_error(devices_->link(request("")), ErrorCode::kForbidden);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1}));
}

TEST_F(DeviceServiceTest, CodesExpireAfterTheirTtl) {
  std::string late = issue(uuid_);
  std::string in_time = issue(uuid_);
  clock_.advance(config_.link_code_ttl - 1ms);
  EXPECT_TRUE(devices_->link(request(in_time)).ok());
  clock_.advance(1ms);
  expect_error(devices_->link(request(late)), ErrorCode::kForbidden);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(DeviceServiceTest, CodesLinkToTheAccountThatIssuedThem) {
  std::string other = create("+33622222222");
  std::string code = issue(other);
  auto linked = devices_->link(request(code));
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->uuid, other);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(device_ids(other), (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(DeviceServiceTest, LinkedDevicesAreLimitedAndARefusedCodeIsKept) {
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  std::string code = issue(uuid_);
  expect_error(devices_->link(request(code)), ErrorCode::kConflict);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2, 3}));

  ASSERT_TRUE(devices_->remove(as(uuid_, 1), 2).ok());
  auto linked = devices_->link(request(code));
  ASSERT_TRUE(linked.ok()) << linked.error().message;
  EXPECT_EQ(linked->device_id, 2u);  // the freed id
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST_F(DeviceServiceTest, LinkRequestsAreValidated) {
  std::string code = issue(uuid_);
  LinkRequest short_password = request(code);
  short_password.password = std::string(accounts_config_.min_password_length - 1, 'p');
  expect_error(devices_->link(short_password), ErrorCode::kMalformedRequest);
  LinkRequest long_password = request(code);
  long_password.password = std::string(accounts_config_.max_password_length + 1, 'p');
  expect_error(devices_->link(long_password), ErrorCode::kMalformedRequest);
  expect_error(devices_->link(request(code, 0)), ErrorCode::kMalformedRequest);
  expect_error(devices_->link(request(code, 16384)), ErrorCode::kMalformedRequest);
  expect_error(devices_->link(request(code, 500, std::string(accounts_config_.max_name_bytes + 1, 'n'))),
               ErrorCode::kMalformedRequest);
  // None of these consumed the code.
  auto linked = devices_->link(request(code, 16383, std::string(accounts_config_.max_name_bytes, 'n')));
  EXPECT_TRUE(linked.ok()) << linked.error().message;
}

TEST_F(DeviceServiceTest, LinkAttemptsAreLimitedPerAddress) {
  limits_config_.device_link_per_ip = {2, std::chrono::hours(1)};
  limits_ = std::make_unique<Limits>(limits_config_, metrics_);
  devices_ = std::make_unique<DeviceService>(config_, accounts_config_, *storage_, *limits_, clock_, random_);
  expect_error(devices_->link(request("wrong-1")), ErrorCode::kForbidden);
  expect_error(devices_->link(request("wrong-2")), ErrorCode::kForbidden);
  std::string code = issue(uuid_);
  expect_error(devices_->link(request(code)), ErrorCode::kRateLimited);
  EXPECT_TRUE(devices_->link(request(code, 500, "phone", "192.0.2.2")).ok());
}

TEST_F(DeviceServiceTest, ThePrimaryRemovesALinkedDevice) {
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  ASSERT_TRUE(devices_->remove(as(uuid_, 1), 3).ok());
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2}));
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].first, uuid_);
  EXPECT_EQ(removed_[0].second, std::optional<std::uint32_t>(3));
  auto gone = storage_->accounts().find_device(uuid_, 3);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());

  expect_error(devices_->remove(as(uuid_, 1), 3), ErrorCode::kNotFound);
  expect_error(devices_->remove(as(uuid_, 1), 9), ErrorCode::kNotFound);
  EXPECT_EQ(removed_.size(), 1u);  // failures are not announced
}

TEST_F(DeviceServiceTest, APrimaryCannotBeRemoved) {
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  expect_error(devices_->remove(as(uuid_, 1), 1), ErrorCode::kForbidden);
  expect_error(devices_->remove(as(uuid_, 2), 1), ErrorCode::kForbidden);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_TRUE(removed_.empty());
}

TEST_F(DeviceServiceTest, ALinkedDeviceMayRemoveOnlyItself) {
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  ASSERT_TRUE(devices_->link(request(issue(uuid_))).ok());
  expect_error(devices_->remove(as(uuid_, 2), 3), ErrorCode::kForbidden);
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 2, 3}));
  ASSERT_TRUE(devices_->remove(as(uuid_, 2), 2).ok());
  EXPECT_EQ(device_ids(uuid_), (std::vector<std::uint32_t>{1, 3}));
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].second, std::optional<std::uint32_t>(2));
}

TEST_F(DeviceServiceTest, RemovingADeviceDropsItsQueuedMessages) {
  ASSERT_TRUE(devices_->link(request(issue(uuid_), 600)).ok());
  Envelope e;
  e.destination_uuid = uuid_;
  e.destination_device = 2;
  e.destination_registration_id = 600;
  e.source_uuid = uuid_;
  e.source_device = 1;
  e.type = 1;
  e.content = "x";
  std::promise<bool> stored;
  storage_->messages().insert({e}, 10, [&stored](Result<std::vector<Envelope>> r) { stored.set_value(r.ok()); });
  ASSERT_TRUE(stored.get_future().get());
  ASSERT_EQ(*storage_->messages().count(uuid_, 2), 1u);
  ASSERT_TRUE(devices_->remove(as(uuid_, 1), 2).ok());
  EXPECT_EQ(*storage_->messages().count(uuid_, 2), 0u);
}

TEST_F(DeviceServiceTest, ListOfADeletedAccountIsUnauthorized) {
  ASSERT_TRUE(storage_->accounts().delete_account(uuid_).ok());
  expect_error(devices_->list(as(uuid_, 1)), ErrorCode::kUnauthorized);
}

}  // namespace
}  // namespace latchkey
