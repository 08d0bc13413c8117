// StaffStore and AlertQueries on SQLite: the enrollment transaction, single-use challenges, monotonic sign
// counts, session expiry, and the aggregate counts the alert rules read.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "storage/storage.h"

namespace latchkey {
namespace {

constexpr EpochMillis kNow = 1'700'000'000'000;

class SqliteStaffStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "latchkey-staff-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    StorageConfig config;
    config.sqlite_path = dir_ + "/latchkey.db";
    auto opened = open_storage(config);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    storage_ = std::move(opened.value());
  }
  void TearDown() override {
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  StaffStore& staff() { return storage_->staff(); }

  StaffInvite invite(const std::string& token_hash, const std::string& name, EpochMillis expires_at = kNow + 60'000) {
    StaffInvite i;
    i.token_hash = token_hash;
    i.name = name;
    i.role = "support";
    i.invited_by = "cli";
    i.created_at = kNow;
    i.expires_at = expires_at;
    return i;
  }
  StaffMember member(const std::string& id, const std::string& name) {
    StaffMember m;
    m.id = id;
    m.name = name;
    m.role = "support";
    m.created_at = kNow;
    m.created_by = "cli";
    return m;
  }
  StaffCredential credential(const std::string& id, const std::string& staff_id, std::uint32_t count = 0) {
    StaffCredential c;
    c.credential_id = id;
    c.staff_id = staff_id;
    c.public_key_cose = std::string("\xa5\x01\x02", 3);
    c.sign_count = count;
    c.created_at = kNow;
    return c;
  }

  std::string dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(SqliteStaffStoreTest, EnrollmentUsesTheInviteOnce) {
  ASSERT_TRUE(staff().put_invite(invite("hash-1", "Ada")).ok());
  auto found = staff().find_invite("hash-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "Ada");

  ASSERT_TRUE(staff().enroll("hash-1", member("id-1", "Ada"), credential("cred-1", "id-1"), kNow + 1).ok());
  auto again = staff().enroll("hash-1", member("id-2", "Ada2"), credential("cred-2", "id-2"), kNow + 2);
  EXPECT_EQ(again.error().code, ErrorCode::kForbidden);
  EXPECT_EQ((*staff().find_invite("hash-1"))->used_at, kNow + 1);
  auto stored = staff().find_credential("cred-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->staff_id, "id-1");
  EXPECT_EQ((*stored)->public_key_cose, std::string("\xa5\x01\x02", 3));
  EXPECT_EQ(*staff().count_members(), 1u);
  // The member's name is taken now: a new invite for it is refused.
  EXPECT_EQ(staff().put_invite(invite("hash-2", "Ada")).error().code, ErrorCode::kConflict);
}

TEST_F(SqliteStaffStoreTest, ExpiredInviteAndDuplicateCredentialAreRefused) {
  ASSERT_TRUE(staff().put_invite(invite("old", "Old", kNow)).ok());
  EXPECT_EQ(staff().enroll("old", member("id-o", "Old"), credential("c-o", "id-o"), kNow).error().code,
            ErrorCode::kForbidden);
  ASSERT_TRUE(staff().put_invite(invite("a", "A")).ok());
  ASSERT_TRUE(staff().put_invite(invite("b", "B")).ok());
  ASSERT_TRUE(staff().enroll("a", member("id-a", "A"), credential("same", "id-a"), kNow).ok());
  EXPECT_EQ(staff().enroll("b", member("id-b", "B"), credential("same", "id-b"), kNow).error().code,
            ErrorCode::kConflict);
  // The failed enrollment left invite b unused (rolled back with the rest).
  EXPECT_EQ((*staff().find_invite("b"))->used_at, 0);
}

TEST_F(SqliteStaffStoreTest, ChallengesAreSingleUseAndBoundToPurposeAndSubject) {
  ASSERT_TRUE(staff().put_challenge("c1", "sign_in", "", kNow + 1000, kNow).ok());
  EXPECT_FALSE(*staff().consume_challenge("c1", "enroll", "", kNow));
  EXPECT_FALSE(*staff().consume_challenge("c1", "sign_in", "other", kNow));
  EXPECT_TRUE(*staff().consume_challenge("c1", "sign_in", "", kNow));
  EXPECT_FALSE(*staff().consume_challenge("c1", "sign_in", "", kNow));
  ASSERT_TRUE(staff().put_challenge("c2", "sign_in", "", kNow + 1000, kNow).ok());
  EXPECT_FALSE(*staff().consume_challenge("c2", "sign_in", "", kNow + 1000));  // expired
}

TEST_F(SqliteStaffStoreTest, SignCountOnlyMovesForward) {
  ASSERT_TRUE(staff().put_invite(invite("h", "C")).ok());
  ASSERT_TRUE(staff().enroll("h", member("id-c", "C"), credential("cred", "id-c", 5), kNow).ok());
  EXPECT_EQ(staff().update_sign_count("cred", 5, kNow).error().code, ErrorCode::kConflict);
  EXPECT_EQ(staff().update_sign_count("cred", 4, kNow).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(staff().update_sign_count("cred", 6, kNow + 1).ok());
  EXPECT_EQ((*staff().find_credential("cred"))->sign_count, 6u);
  EXPECT_EQ((*staff().find_credential("cred"))->last_used_at, kNow + 1);
}

TEST_F(SqliteStaffStoreTest, AuthenticatorsThatAlwaysReportZeroStayAtZero) {
  ASSERT_TRUE(staff().put_invite(invite("h", "Z")).ok());
  ASSERT_TRUE(staff().enroll("h", member("id-z", "Z"), credential("zero", "id-z", 0), kNow).ok());
  EXPECT_TRUE(staff().update_sign_count("zero", 0, kNow).ok());
  EXPECT_TRUE(staff().update_sign_count("zero", 0, kNow).ok());
}

TEST_F(SqliteStaffStoreTest, SessionsExpireIdleAndEndWhenTheMemberIsDisabled) {
  ASSERT_TRUE(staff().put_invite(invite("h", "S")).ok());
  ASSERT_TRUE(staff().enroll("h", member("id-s", "S"), credential("cs", "id-s"), kNow).ok());
  StaffSession session{"tok", "id-s", kNow, kNow + 100'000, kNow};
  ASSERT_TRUE(staff().put_session(session).ok());
  auto live = staff().touch_session("tok", kNow + 5'000, 10'000);
  ASSERT_TRUE(live.ok() && live->has_value());
  EXPECT_EQ((*live)->last_seen_at, kNow + 5'000);
  // Idle for longer than the timeout since the last touch: gone, and deleted.
  EXPECT_FALSE(staff().touch_session("tok", kNow + 15'001, 10'000)->has_value());
  EXPECT_FALSE(staff().touch_session("tok", kNow + 15'002, 1'000'000)->has_value());

  ASSERT_TRUE(staff().put_session({"abs", "id-s", kNow, kNow + 100'000, kNow}).ok());
  EXPECT_FALSE(staff().touch_session("abs", kNow + 100'000, 1'000'000)->has_value());  // absolute end

  ASSERT_TRUE(staff().put_session({"dis", "id-s", kNow, kNow + 100'000, kNow}).ok());
  ASSERT_TRUE(staff().disable_member("id-s", kNow + 1).ok());
  EXPECT_FALSE(staff().touch_session("dis", kNow + 2, 1'000'000)->has_value());
  EXPECT_EQ(*staff().count_members(), 0u);
  EXPECT_EQ(staff().disable_member("nobody", kNow).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(staff().delete_session("never-existed").ok());
}

TEST_F(SqliteStaffStoreTest, AlertQueriesCountWhatTheRulesNeed) {
  auto& q = storage_->alert_queries();
  auto lookups = q.staff_lookups(0);
  ASSERT_TRUE(lookups.ok()) << lookups.error().message;
  EXPECT_TRUE(lookups->empty());
  auto rereg = q.established_reregistrations(0, 1000);
  ASSERT_TRUE(rereg.ok()) << rereg.error().message;
  EXPECT_EQ(*rereg, 0);
  auto prefixes = q.unverified_codes_by_prefix(0);
  ASSERT_TRUE(prefixes.ok()) << prefixes.error().message;
  auto providers = q.registrations_by_provider(0);
  ASSERT_TRUE(providers.ok()) << providers.error().message;

  // Sessions sent a code and never verified count per calling code.
  for (int i = 0; i < 3; ++i) {
    VerificationSession s;
    s.id = "s" + std::to_string(i);
    s.number = "+3361234567" + std::to_string(i);
    s.country_code = i < 2 ? "33" : "44";
    s.created_at = kNow;
    s.expires_at = kNow + 1'000'000;
    s.sms_sent = 1;
    ASSERT_TRUE(storage_->sessions().insert(s).ok());
  }
  prefixes = q.unverified_codes_by_prefix(kNow);
  ASSERT_TRUE(prefixes.ok());
  ASSERT_EQ(prefixes->size(), 2u);
  EXPECT_EQ((*prefixes)[0].key, "33");
  EXPECT_EQ((*prefixes)[0].count, 2);
  EXPECT_TRUE(q.unverified_codes_by_prefix(kNow + 1)->empty());
}

}  // namespace
}  // namespace latchkey
