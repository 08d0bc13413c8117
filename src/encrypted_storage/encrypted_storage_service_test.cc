#include "encrypted_storage/encrypted_storage_service.h"

#include <unistd.h>

#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "core/encoding.h"
#include "storage/fault_injecting_storage.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

std::string key_of(char c, std::size_t bytes = 16) { return std::string(bytes, c); }

class EncryptedStorageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lk-es-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    StorageConfig sc;
    sc.sqlite_path = (dir_ / "db.sqlite").string();
    auto opened = open_storage(sc);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    storage_ = std::make_unique<FaultInjectingStorage>(std::move(opened.value()));
    config_.storage_max_value_bytes = 8;
    config_.storage_max_manifest_bytes = 10;
    config_.storage_max_items_per_request = 3;
    config_.storage_max_items = 4;
    service_ = std::make_unique<EncryptedStorageService>(config_, storage_->encrypted_storage());
    Device primary;
    primary.password_hash = "h";
    ASSERT_TRUE(storage_->accounts().create_or_replace("+33612345678", uuid_, primary, 1000).ok());
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }

  void expect_malformed(const Status& status, const std::string& mentions) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, ErrorCode::kMalformedRequest);
    EXPECT_NE(status.error().message.find(mentions), std::string::npos) << status.error().message;
  }

  std::filesystem::path dir_;
  AccountsConfig config_;
  std::unique_ptr<FaultInjectingStorage> storage_;
  std::unique_ptr<EncryptedStorageService> service_;
  const std::string uuid_ = "uuid-1";
};

TEST_F(EncryptedStorageServiceTest, ManifestVersionsFollowOneAnother) {
  auto missing = service_->get_manifest(uuid_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  Status wrong_first = service_->put_manifest(uuid_, {2, "v2"});
  ASSERT_FALSE(wrong_first.ok());
  EXPECT_EQ(wrong_first.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(wrong_first.error().details.contains("current"));
  EXPECT_TRUE(wrong_first.error().details["current"].is_null());

  ASSERT_TRUE(service_->put_manifest(uuid_, {1, "v1"}).ok());
  ASSERT_TRUE(service_->put_manifest(uuid_, {2, "v2"}).ok());
  Status stale = service_->put_manifest(uuid_, {2, "other"});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(stale.error().details["current"]["version"], 2);
  EXPECT_EQ(stale.error().details["current"]["value"], base64_encode("v2"));
  Status skipped = service_->put_manifest(uuid_, {4, "v4"});
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(skipped.error().code, ErrorCode::kConflict);

  auto manifest = service_->get_manifest(uuid_);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->version, 2);
  EXPECT_EQ(manifest->value, "v2");
}

TEST_F(EncryptedStorageServiceTest, ManifestLimitsAreChecked) {
  expect_malformed(service_->put_manifest(uuid_, {0, "v"}), "version");
  expect_malformed(service_->put_manifest(uuid_, {-1, "v"}), "version");
  expect_malformed(service_->put_manifest(uuid_, {1, ""}), "value");
  expect_malformed(service_->put_manifest(uuid_, {1, std::string(11, 'x')}), "storage_max_manifest_bytes");
  EXPECT_TRUE(service_->put_manifest(uuid_, {1, std::string(10, 'x')}).ok());
}

TEST_F(EncryptedStorageServiceTest, ItemsAreUpsertedReadAndDeleted) {
  ASSERT_TRUE(service_->put_items(uuid_, {{key_of('a'), "1"}, {key_of('b', 64), "2"}}).ok());
  ASSERT_TRUE(service_->put_items(uuid_, {{key_of('a'), "one"}}).ok());
  auto read = service_->read_items(uuid_, {key_of('b', 64), key_of('c'), key_of('a')});
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].key, key_of('b', 64));
  EXPECT_EQ((*read)[0].value, "2");
  EXPECT_EQ((*read)[1].key, key_of('a'));
  EXPECT_EQ((*read)[1].value, "one");

  ASSERT_TRUE(service_->delete_items(uuid_, {key_of('a'), key_of('z')}).ok());
  read = service_->read_items(uuid_, {key_of('a'), key_of('b', 64)});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].key, key_of('b', 64));
}

TEST_F(EncryptedStorageServiceTest, ItemLimitsAreChecked) {
  expect_malformed(service_->put_items(uuid_, {}), "items");
  expect_malformed(service_->put_items(uuid_, {{key_of('a', 15), "v"}}), "16 to 64");
  expect_malformed(service_->put_items(uuid_, {{key_of('a', 65), "v"}}), "16 to 64");
  expect_malformed(service_->put_items(uuid_, {{key_of('a'), ""}}), "value");
  expect_malformed(service_->put_items(uuid_, {{key_of('a'), std::string(9, 'v')}}), "storage_max_value_bytes");
  expect_malformed(service_->put_items(uuid_, {{key_of('a'), "1"}, {key_of('a'), "2"}}), "twice");
  expect_malformed(service_->put_items(uuid_, {{key_of('a'), "1"}, {key_of('b'), "2"}, {key_of('c'), "3"},
                                               {key_of('d'), "4"}}),
                   "storage_max_items_per_request");
  auto no_keys = service_->read_items(uuid_, {});
  ASSERT_FALSE(no_keys.ok());
  EXPECT_EQ(no_keys.error().code, ErrorCode::kMalformedRequest);
  auto too_short = service_->read_items(uuid_, {key_of('a', 8)});
  ASSERT_FALSE(too_short.ok());
  EXPECT_EQ(too_short.error().code, ErrorCode::kMalformedRequest);
  expect_malformed(service_->delete_items(uuid_, {key_of('a'), key_of('b'), key_of('c'), key_of('d')}),
                   "storage_max_items_per_request");

  // Nothing was stored by the refused requests.
  auto count = storage_->encrypted_storage().count_items(uuid_);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
}

TEST_F(EncryptedStorageServiceTest, TotalItemsPerAccountIsLimitedAllOrNothing) {
  ASSERT_TRUE(service_->put_items(uuid_, {{key_of('a'), "1"}, {key_of('b'), "2"}, {key_of('c'), "3"}}).ok());
  // Replacing existing items does not count twice.
  ASSERT_TRUE(service_->put_items(uuid_, {{key_of('a'), "x"}, {key_of('b'), "y"}, {key_of('d'), "4"}}).ok());
  Status over = service_->put_items(uuid_, {{key_of('a'), "changed"}, {key_of('e'), "5"}});
  expect_malformed(over, "storage_max_items");
  auto read = service_->read_items(uuid_, {key_of('a'), key_of('e')});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].value, "x");  // the refused request changed nothing

  ASSERT_TRUE(service_->delete_items(uuid_, {key_of('d')}).ok());
  EXPECT_TRUE(service_->put_items(uuid_, {{key_of('e'), "5"}}).ok());
}

TEST_F(EncryptedStorageServiceTest, StorageFailuresArePassedOn) {
  storage_->fail_all_writes(true);
  Status put = service_->put_items(uuid_, {{key_of('a'), "1"}});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable);
  Status manifest = service_->put_manifest(uuid_, {1, "v"});
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.error().code, ErrorCode::kUnavailable);
  storage_->fail_all_writes(false);
  storage_->fail_all_reads(true);
  auto read = service_->get_manifest(uuid_);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace latchkey
