// Two devices with their own stores exchange messages through the real libsignal-protocol-c code paths:
// key upload JSON -> bundle -> X3DH -> Double Ratchet, and a changed identity is noticed.
#include "client/signal/session_crypto.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>

#include "client/signal/crypto_provider.h"
#include "client/signal/keys.h"
#include "client/signal/signal_types.h"
#include "core/encoding.h"

namespace latchkey::client {
namespace {

struct TestDevice {
  std::unique_ptr<LocalStore> store;
  std::unique_ptr<ProtocolContext> ctx;
  Account account;
};

class SessionCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    dir_ = std::filesystem::temp_directory_path() / ("latchkey-client-test-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TestDevice make_device(const std::string& name, const std::string& uuid, int device_id = 1) {
    TestDevice d;
    auto store = LocalStore::open((dir_ / name / "store.db").string());
    EXPECT_TRUE(store.ok());
    d.store = std::move(*store);
    auto keygen = ProtocolContext::create_without_account(*d.store);
    EXPECT_TRUE(keygen.ok());
    auto identity = generate_identity_key_pair(**keygen);
    auto registration_id = generate_registration_id(**keygen);
    EXPECT_TRUE(identity.ok() && registration_id.ok());
    d.account.uuid = uuid;
    d.account.number = "+33600000000";
    d.account.device_id = device_id;
    d.account.password = "password-password";
    d.account.registration_id = *registration_id;
    d.account.identity_public = identity->public_key;
    d.account.identity_private = identity->private_key;
    EXPECT_TRUE(d.store->save_account(d.account).ok());
    auto ctx = ProtocolContext::create(*d.store, d.account);
    EXPECT_TRUE(ctx.ok());
    d.ctx = std::move(*ctx);
    return d;
  }

  // The bundle the server would hand out for `d` after its PUT /v2/keys.
  static nlohmann::json bundle_of(TestDevice& d, bool with_prekey = true) {
    auto upload = generate_key_upload(*d.ctx, true, 3);
    EXPECT_TRUE(upload.ok());
    nlohmann::json device = {{"deviceId", d.account.device_id},
                             {"registrationId", d.account.registration_id},
                             {"signedPreKey", (*upload)["signedPreKey"]}};
    if (with_prekey) device["preKey"] = (*upload)["preKeys"][0];
    return {{"identityKey", (*upload)["identityKey"]}, {"devices", {device}}};
  }

  std::filesystem::path dir_;
  static inline int counter_ = 0;
};

TEST_F(SessionCryptoTest, KeyUploadHasTheWireShape) {
  TestDevice a = make_device("a", "aaaaaaaa-0000-4000-8000-000000000001");
  auto upload = generate_key_upload(*a.ctx, true, 100);
  ASSERT_TRUE(upload.ok());
  auto identity = base64_decode((*upload)["identityKey"].get<std::string>());
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->size(), 33u);
  EXPECT_EQ((*identity)[0], 0x05);
  EXPECT_EQ(base64_decode((*upload)["signedPreKey"]["signature"].get<std::string>())->size(), 64u);
  EXPECT_EQ(base64_decode((*upload)["signedPreKey"]["publicKey"].get<std::string>())->size(), 33u);
  ASSERT_EQ((*upload)["preKeys"].size(), 100u);
  EXPECT_EQ((*upload)["preKeys"][0]["keyId"], 1);
  EXPECT_EQ((*upload)["preKeys"][99]["keyId"], 100);
  // The next batch continues the ids.
  auto more = generate_key_upload(*a.ctx, false, 2);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->contains("signedPreKey"));
  EXPECT_EQ((*more)["preKeys"][0]["keyId"], 101);
  // Private halves never appear in the upload.
  EXPECT_EQ(upload->dump().find(base64_encode(a.account.identity_private)), std::string::npos);
}

TEST_F(SessionCryptoTest, MessagesFlowBothWaysAndDuplicatesAreRecognised) {
  TestDevice alice = make_device("alice", "aaaaaaaa-0000-4000-8000-000000000001");
  TestDevice bob = make_device("bob", "bbbbbbbb-0000-4000-8000-000000000002");
  auto bundle = bundle_of(bob);
  ASSERT_TRUE(process_bundle(*alice.ctx, bob.account.uuid, bundle["identityKey"], bundle["devices"][0]).ok());

  auto first = encrypt_for(*alice.ctx, bob.account.uuid, 1, "hello bob");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->type, kEnvelopePreKey);
  EXPECT_EQ(first->remote_registration_id, bob.account.registration_id);
  EXPECT_EQ(first->body.find("hello bob"), std::string::npos);
  auto plain = decrypt_from(*bob.ctx, alice.account.uuid, 1, first->type, first->body);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain, "hello bob");

  auto again = decrypt_from(*bob.ctx, alice.account.uuid, 1, first->type, first->body);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, kDuplicateMessage);

  auto reply = encrypt_for(*bob.ctx, alice.account.uuid, 1, "hi alice");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->type, kEnvelopeCiphertext);
  auto reply_plain = decrypt_from(*alice.ctx, bob.account.uuid, 1, reply->type, reply->body);
  ASSERT_TRUE(reply_plain.ok()) << reply_plain.error().message;
  EXPECT_EQ(*reply_plain, "hi alice");

  auto next = encrypt_for(*alice.ctx, bob.account.uuid, 1, "and again");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->type, kEnvelopeCiphertext);
  auto next_plain = decrypt_from(*bob.ctx, alice.account.uuid, 1, next->type, next->body);
  ASSERT_TRUE(next_plain.ok());
  EXPECT_EQ(*next_plain, "and again");

  // A tampered message does not decrypt.
  auto tampered = encrypt_for(*alice.ctx, bob.account.uuid, 1, "tamper");
  ASSERT_TRUE(tampered.ok());
  tampered->body[tampered->body.size() / 2] ^= 0x40;
  EXPECT_FALSE(decrypt_from(*bob.ctx, alice.account.uuid, 1, tampered->type, tampered->body).ok());
}

TEST_F(SessionCryptoTest, BundleWithoutOneTimePrekeyStillStartsASession) {
  TestDevice alice = make_device("alice", "aaaaaaaa-0000-4000-8000-000000000001");
  TestDevice bob = make_device("bob", "bbbbbbbb-0000-4000-8000-000000000002");
  auto bundle = bundle_of(bob, /*with_prekey=*/false);
  ASSERT_TRUE(process_bundle(*alice.ctx, bob.account.uuid, bundle["identityKey"], bundle["devices"][0]).ok());
  auto m = encrypt_for(*alice.ctx, bob.account.uuid, 1, "no prekey left");
  ASSERT_TRUE(m.ok());
  auto plain = decrypt_from(*bob.ctx, alice.account.uuid, 1, m->type, m->body);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain, "no prekey left");
}

TEST_F(SessionCryptoTest, ForgedSignedPrekeyIsRejected) {
  TestDevice alice = make_device("alice", "aaaaaaaa-0000-4000-8000-000000000001");
  TestDevice bob = make_device("bob", "bbbbbbbb-0000-4000-8000-000000000002");
  TestDevice mallory = make_device("mallory", "cccccccc-0000-4000-8000-000000000003");
  auto bundle = bundle_of(bob);
  auto forged = bundle_of(mallory);
  bundle["devices"][0]["signedPreKey"] = forged["devices"][0]["signedPreKey"];
  EXPECT_FALSE(process_bundle(*alice.ctx, bob.account.uuid, bundle["identityKey"], bundle["devices"][0]).ok());
}

TEST_F(SessionCryptoTest, ChangedIdentityIsRecordedAndSafetyNumbersAgree) {
  TestDevice alice = make_device("alice", "aaaaaaaa-0000-4000-8000-000000000001");
  TestDevice bob = make_device("bob", "bbbbbbbb-0000-4000-8000-000000000002");
  auto bundle = bundle_of(bob);
  ASSERT_TRUE(process_bundle(*alice.ctx, bob.account.uuid, bundle["identityKey"], bundle["devices"][0]).ok());
  EXPECT_TRUE(alice.ctx->identity_changes().empty());
  auto changed = alice.store->changed_identities();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->empty());

  auto ours = safety_number(*alice.ctx, alice.account.uuid, alice.account.identity_public, bob.account.uuid,
                            bob.account.identity_public);
  auto theirs = safety_number(*bob.ctx, bob.account.uuid, bob.account.identity_public, alice.account.uuid,
                              alice.account.identity_public);
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_TRUE(theirs.ok()) << theirs.error().message;
  EXPECT_EQ(ours->size(), 60u);
  EXPECT_EQ(*ours, *theirs);
  EXPECT_EQ(format_safety_number(*ours).size(), 60u + 11u);

  // bob re-registers: same uuid, new identity key.
  TestDevice new_bob = make_device("new-bob", bob.account.uuid);
  auto new_bundle = bundle_of(new_bob);
  ASSERT_TRUE(process_bundle(*alice.ctx, bob.account.uuid, new_bundle["identityKey"], new_bundle["devices"][0]).ok());
  EXPECT_EQ(alice.ctx->identity_changes().count(bob.account.uuid), 1u);
  changed = alice.store->changed_identities();
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ((*changed)[0].key, new_bob.account.identity_public);
  auto after = safety_number(*alice.ctx, alice.account.uuid, alice.account.identity_public, bob.account.uuid,
                             new_bob.account.identity_public);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *ours);
  ASSERT_TRUE(alice.store->accept_identity(bob.account.uuid).ok());
  changed = alice.store->changed_identities();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->empty());

  // Messages keep flowing to the new identity (trust on first use, change reported).
  auto m = encrypt_for(*alice.ctx, bob.account.uuid, 1, "new phone?");
  ASSERT_TRUE(m.ok());
  auto plain = decrypt_from(*new_bob.ctx, alice.account.uuid, 1, m->type, m->body);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
}

TEST_F(SessionCryptoTest, StoreFileIsOwnerOnly) {
  TestDevice a = make_device("a", "aaaaaaaa-0000-4000-8000-000000000001");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "a" / "store.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  auto account = a.store->account();
  ASSERT_TRUE(account.ok() && account->has_value());
  EXPECT_EQ((*account)->identity_private, a.account.identity_private);
  EXPECT_EQ((*account)->registration_id, a.account.registration_id);
}

TEST(CryptoProviderTest, HmacSha256MatchesRfc4231AndAesRoundTrips) {
  signal_crypto_provider p = openssl_crypto_provider();
  void* hmac = nullptr;
  std::string key = "Jefe", data = "what do ya want for nothing?";
  ASSERT_EQ(p.hmac_sha256_init_func(&hmac, bytes(key), key.size(), nullptr), 0);
  ASSERT_EQ(p.hmac_sha256_update_func(hmac, bytes(data), data.size(), nullptr), 0);
  SignalBuffer mac;
  ASSERT_EQ(p.hmac_sha256_final_func(hmac, mac.out(), nullptr), 0);
  p.hmac_sha256_cleanup_func(hmac, nullptr);
  EXPECT_EQ(hex_encode(mac.str()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  std::string aes_key(32, 'k'), iv(16, 'i'), plain = "seventeen bytes!!";
  for (int cipher : {SG_CIPHER_AES_CBC_PKCS5, SG_CIPHER_AES_CTR_NOPADDING}) {
    SignalBuffer encrypted, decrypted;
    ASSERT_EQ(p.encrypt_func(encrypted.out(), cipher, bytes(aes_key), 32, bytes(iv), 16, bytes(plain), plain.size(), nullptr), 0);
    EXPECT_EQ(encrypted.str().size(), cipher == SG_CIPHER_AES_CBC_PKCS5 ? 32u : plain.size());
    std::string ct = encrypted.str();
    ASSERT_EQ(p.decrypt_func(decrypted.out(), cipher, bytes(aes_key), 32, bytes(iv), 16, bytes(ct), ct.size(), nullptr), 0);
    EXPECT_EQ(decrypted.str(), plain);
  }

  void* digest = nullptr;
  ASSERT_EQ(p.sha512_digest_init_func(&digest, nullptr), 0);
  ASSERT_EQ(p.sha512_digest_update_func(digest, bytes(std::string("abc")), 3, nullptr), 0);
  SignalBuffer out;
  ASSERT_EQ(p.sha512_digest_final_func(digest, out.out(), nullptr), 0);
  EXPECT_EQ(hex_encode(out.str()).substr(0, 16), "ddaf35a193617aba");
  p.sha512_digest_cleanup_func(digest, nullptr);
}

}  // namespace
}  // namespace latchkey::client
