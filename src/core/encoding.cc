#include "core/encoding.h"

#include <cstdint>

#include <sodium.h>

namespace latchkey {
namespace {

std::string encode(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

std::optional<std::string> decode(std::string_view text, int variant) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, &end, variant) != 0 ||
      end != text.data() + text.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Sextet value of each byte in one alphabet, -1 for a byte outside it.
struct DecodeTable {
  signed char value[256];
  constexpr explicit DecodeTable(char c62, char c63) : value{} {
    for (int i = 0; i < 256; ++i) value[i] = -1;
    for (int i = 0; i < 62; ++i) value[static_cast<unsigned char>(kStandard[i])] = static_cast<signed char>(i);
    value[static_cast<unsigned char>(c62)] = 62;
    value[static_cast<unsigned char>(c63)] = 63;
  }
};
constexpr DecodeTable kStandardTable('+', '/');
constexpr DecodeTable kUrlTable('-', '_');

// Decodes `text` (no padding) in one alphabet; nullopt for a foreign byte, a length of 1 mod 4 or non-zero
// unused bits in the last sextet.
std::optional<std::string> decode_unpadded(std::string_view text, const DecodeTable& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out(text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int a = table.value[in[i]], b = table.value[in[i + 1]], c = table.value[in[i + 2]], d = table.value[in[i + 3]];
    if ((a | b | c | d) < 0) return std::nullopt;
    const std::uint32_t n = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6) | std::uint32_t(d);
    *o++ = static_cast<char>(n >> 16);
    *o++ = static_cast<char>(n >> 8);
    *o++ = static_cast<char>(n);
  }
  const std::size_t rest = text.size() - i;
  if (rest >= 2) {
    const int a = table.value[in[i]], b = table.value[in[i + 1]], c = rest == 3 ? table.value[in[i + 2]] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    if (rest == 2 && (b & 0x0F) != 0) return std::nullopt;
    if (rest == 3 && (c & 0x03) != 0) return std::nullopt;
    *o++ = static_cast<char>((a << 2) | (b >> 4));
    if (rest == 3) *o++ = static_cast<char>(((b & 0x0F) << 4) | (c >> 2));
  }
  return out;
}

}  // namespace

void base64_append_public(std::string& out, std::string_view bytes) {
  const std::size_t start = out.size();
  out.resize(start + (bytes.size() + 2) / 3 * 4, '=');
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  char* o = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t(in[i]) << 16) | (std::uint32_t(in[i + 1]) << 8) | in[i + 2];
    *o++ = kStandard[n >> 18];
    *o++ = kStandard[(n >> 12) & 63];
    *o++ = kStandard[(n >> 6) & 63];
    *o++ = kStandard[n & 63];
  }
  if (i < bytes.size()) {
    const std::uint32_t n = (std::uint32_t(in[i]) << 16) | (i + 1 < bytes.size() ? std::uint32_t(in[i + 1]) << 8 : 0);
    *o++ = kStandard[n >> 18];
    *o++ = kStandard[(n >> 12) & 63];
    if (i + 1 < bytes.size()) *o = kStandard[(n >> 6) & 63];
  }
}

std::string base64_encode_public(std::string_view bytes) {
  std::string out;
  base64_append_public(out, bytes);
  return out;
}

std::optional<std::string> base64_decode_public_any(std::string_view text) {
  // Standard alphabet: the length is a multiple of 4, with at most two '=' at the end.
  if (text.size() % 4 == 0) {
    std::string_view body = text;
    if (!body.empty() && body.back() == '=') body.remove_suffix(1);
    if (!body.empty() && body.back() == '=') body.remove_suffix(1);
    if (auto standard = decode_unpadded(body, kStandardTable)) return standard;
  }
  // URL-safe alphabet, padding optional (but, when present, only to a multiple of 4).
  std::string_view body = text;
  std::size_t pad = 0;
  while (!body.empty() && body.back() == '=' && pad < 2) {
    body.remove_suffix(1);
    ++pad;
  }
  if (pad > 0 && text.size() % 4 != 0) return std::nullopt;
  return decode_unpadded(body, kUrlTable);
}

std::string base64_encode(std::string_view bytes) { return encode(bytes, sodium_base64_VARIANT_ORIGINAL); }
std::string base64url_encode(std::string_view bytes) { return encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING); }
std::optional<std::string> base64_decode(std::string_view text) { return decode(text, sodium_base64_VARIANT_ORIGINAL); }

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string hex_encode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &len,
                     &end) != 0 ||
      end != text.data() + text.size() || len != out.size())
    return std::nullopt;
  return out;
}

std::string url_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() + 0 && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace latchkey
