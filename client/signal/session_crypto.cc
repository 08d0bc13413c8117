#include "client/signal/session_crypto.h"

#include <curve.h>
#include <fingerprint.h>
#include <protocol.h>
#include <session_cipher.h>

#include "client/signal/signal_types.h"

namespace latchkey::client {
namespace {

Error crypto_error(std::string what, int rc) {
  Error e = make_error(ErrorKind::kCrypto, what + " failed (libsignal " + std::to_string(rc) + ")");
  if (rc == SG_ERR_DUPLICATE_MESSAGE) e.code = kDuplicateMessage;
  return e;
}

class Cipher {
 public:
  Cipher(ProtocolContext& ctx, std::string_view uuid, int device_id) : name_(uuid) {
    address_ = {name_.c_str(), name_.size(), device_id};
    rc_ = session_cipher_create(&cipher_, ctx.stores(), &address_, ctx.global());
  }
  ~Cipher() {
    if (cipher_) session_cipher_free(cipher_);
  }
  int rc() const { return rc_; }
  session_cipher* get() const { return cipher_; }
  std::string label() const { return name_ + "." + std::to_string(address_.device_id); }

 private:
  std::string name_;
  signal_protocol_address address_{};
  session_cipher* cipher_ = nullptr;
  int rc_ = 0;
};

}  // namespace

Result<Ciphertext> encrypt_for(ProtocolContext& ctx, std::string_view uuid, int device_id, std::string_view plaintext) {
  Cipher cipher(ctx, uuid, device_id);
  if (cipher.rc() != 0) return crypto_error("creating a cipher", cipher.rc());
  Ciphertext out;
  int rc = session_cipher_get_remote_registration_id(cipher.get(), &out.remote_registration_id);
  if (rc != 0) return crypto_error("reading the session with " + cipher.label(), rc);
  SignalRef<ciphertext_message> message;
  rc = session_cipher_encrypt(cipher.get(), bytes(plaintext), plaintext.size(), message.out());
  if (rc != 0) return crypto_error("encrypting for " + cipher.label(), rc);
  signal_buffer* serialized = ciphertext_message_get_serialized(message.get());
  out.body.assign(reinterpret_cast<const char*>(signal_buffer_data(serialized)), signal_buffer_len(serialized));
  out.type = ciphertext_message_get_type(message.get()) == CIPHERTEXT_PREKEY_TYPE ? kEnvelopePreKey : kEnvelopeCiphertext;
  return out;
}

Result<std::string> decrypt_from(ProtocolContext& ctx, std::string_view uuid, int device_id, int envelope_type,
                                 std::string_view content) {
  Cipher cipher(ctx, uuid, device_id);
  if (cipher.rc() != 0) return crypto_error("creating a cipher", cipher.rc());
  SignalBuffer plaintext;
  int rc = 0;
  if (envelope_type == kEnvelopePreKey) {
    SignalRef<pre_key_signal_message> message;
    rc = pre_key_signal_message_deserialize(message.out(), bytes(content), content.size(), ctx.global());
    if (rc != 0) return crypto_error("reading a prekey message from " + cipher.label(), rc);
    rc = session_cipher_decrypt_pre_key_signal_message(cipher.get(), message.get(), nullptr, plaintext.out());
  } else if (envelope_type == kEnvelopeCiphertext) {
    SignalRef<signal_message> message;
    rc = signal_message_deserialize(message.out(), bytes(content), content.size(), ctx.global());
    if (rc != 0) return crypto_error("reading a message from " + cipher.label(), rc);
    rc = session_cipher_decrypt_signal_message(cipher.get(), message.get(), nullptr, plaintext.out());
  } else {
    return make_error(ErrorKind::kCrypto, "unsupported envelope type " + std::to_string(envelope_type));
  }
  if (rc != 0) return crypto_error("decrypting a message from " + cipher.label(), rc);
  return plaintext.str();
}

Result<std::string> safety_number(ProtocolContext& ctx, std::string_view local_uuid, std::string_view local_identity,
                                  std::string_view remote_uuid, std::string_view remote_identity) {
  SignalRef<ec_public_key> local_key, remote_key;
  int rc = curve_decode_point(local_key.out(), bytes(local_identity), local_identity.size(), ctx.global());
  if (rc != 0) return crypto_error("decoding our identity key", rc);
  rc = curve_decode_point(remote_key.out(), bytes(remote_identity), remote_identity.size(), ctx.global());
  if (rc != 0) return crypto_error("decoding the contact's identity key", rc);
  fingerprint_generator* generator = nullptr;
  rc = fingerprint_generator_create(&generator, kSafetyNumberIterations, kSafetyNumberVersion, ctx.global());
  if (rc != 0) return crypto_error("creating the fingerprint generator", rc);
  std::string local(local_uuid), remote(remote_uuid);
  SignalRef<fingerprint> fp;
  rc = fingerprint_generator_create_for(generator, local.c_str(), local_key.get(), remote.c_str(), remote_key.get(),
                                        fp.out());
  fingerprint_generator_free(generator);
  if (rc != 0) return crypto_error("computing the safety number", rc);
  const char* text = displayable_fingerprint_text(fingerprint_get_displayable(fp.get()));
  return std::string(text ? text : "");
}

std::string format_safety_number(std::string_view digits) {
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i += 5) {
    if (i > 0) out += (i % 20 == 0) ? '\n' : ' ';
    out += digits.substr(i, 5);
  }
  return out;
}

}  // namespace latchkey::client
