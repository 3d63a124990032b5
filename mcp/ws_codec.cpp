#include "mcp/ws_codec.hpp"

#include <cstring>

namespace faultline::mcp {
namespace {

bool is_control(std::uint8_t opcode) { return opcode >= 8; }
bool is_known(std::uint8_t opcode) { return opcode <= 2 || (opcode >= 8 && opcode <= 10); }

// XORs `n` bytes with the 4-byte key, starting at key byte `phase`; eight bytes at a time.
void apply_mask(char* p, std::size_t n, const unsigned char key[4]) {
  unsigned char wide[8];
  for (int i = 0; i < 8; ++i) wide[i] = key[i % 4];
  std::uint64_t k;
  std::memcpy(&k, wide, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= k;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

std::uint64_t read_be(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool ws_close_code_sendable(int code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs, eight bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t v;
      std::memcpy(&v, s + i, 8);
      if (v & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (n - i <= static_cast<std::size_t>(extra)) return false;  // cut short
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (int k = 2; k <= extra; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

WsDecoder::WsDecoder(WsDecoderOptions options) : options_(options) {}

void WsDecoder::feed(std::string_view bytes, std::vector<WsEvent>& out) {
  const std::uint64_t start = stream_pos_;
  stream_pos_ += bytes.size();
  if (stopped_) return;
  std::string_view data;
  if (pending_.empty()) {
    data = bytes;
    pending_offset_ = start;
  } else {
    pending_.append(bytes);
    data = pending_;
  }
  std::size_t used = 0;
  while (!stopped_) {
    const std::size_t n = decode_frame(data.substr(used), pending_offset_ + used, out);
    if (n == 0) break;
    used += n;
  }
  if (stopped_) {
    pending_.clear();
    pending_.shrink_to_fit();
    return;
  }
  if (data.data() == pending_.data()) {
    pending_.erase(0, used);
  } else {
    pending_.assign(data.substr(used));
  }
  pending_offset_ += used;
}

std::size_t WsDecoder::decode_frame(std::string_view data, std::uint64_t at, std::vector<WsEvent>& out) {
  if (data.size() < 2) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const bool fin = p[0] & 0x80;
  const std::uint8_t rsv = p[0] & 0x70;
  const std::uint8_t opcode = p[0] & 0x0F;
  const bool masked = p[1] & 0x80;
  const std::uint8_t len7 = p[1] & 0x7F;
  if (rsv) {
    violation(ws_close_code::protocol_error, "reserved bits set in a frame header (no extension was negotiated)", at, out);
    return 0;
  }
  if (!is_known(opcode)) {
    violation(ws_close_code::protocol_error, "unknown opcode " + std::to_string(opcode), at, out);
    return 0;
  }
  if (masked != options_.from_client) {
    violation(ws_close_code::protocol_error,
              options_.from_client ? "an unmasked frame from the client" : "a masked frame from the server", at, out);
    return 0;
  }
  if (is_control(opcode) && (!fin || len7 > 125)) {
    violation(ws_close_code::protocol_error,
              !fin ? "a fragmented control frame" : "a control frame over 125 bytes", at, out);
    return 0;
  }
  const int ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  const std::size_t header = 2 + static_cast<std::size_t>(ext) + (masked ? 4 : 0);
  if (data.size() < 2 + static_cast<std::size_t>(ext)) return 0;
  const std::uint64_t length = ext ? read_be(p + 2, ext) : len7;
  if (ext == 8 && (length >> 63)) {
    violation(ws_close_code::protocol_error, "a payload length with the top bit set", at, out);
    return 0;
  }
  if (!is_control(opcode)) {
    const std::uint64_t total = (opcode == 0 && in_message_ ? message_.size() : 0) + length;
    if (total > options_.max_message_bytes) {
      violation(ws_close_code::too_big,
                "a message of " + std::to_string(total) + " bytes or more is over the limit of " +
                    std::to_string(options_.max_message_bytes),
                at, out);
      return 0;
    }
  }
  if (data.size() < header || data.size() - header < length) return 0;
  std::string payload(data.substr(header, static_cast<std::size_t>(length)));
  if (masked) apply_mask(payload.data(), payload.size(), p + header - 4);
  const std::size_t used = header + static_cast<std::size_t>(length);

  switch (static_cast<WsOpcode>(opcode)) {
    case WsOpcode::ping:
    case WsOpcode::pong: {
      WsEvent& e = out.emplace_back();
      e.kind = opcode == 9 ? WsEvent::ping : WsEvent::pong;
      e.payload = std::move(payload);
      e.offset = at;
      return used;
    }
    case WsOpcode::close:
      on_close(std::move(payload), at, out);
      return used;
    case WsOpcode::continuation:
      if (!in_message_) {
        violation(ws_close_code::protocol_error, "a continuation frame with no message in progress", at, out);
        return 0;
      }
      message_ += payload;
      ++message_frames_;
      break;
    case WsOpcode::text:
    case WsOpcode::binary:
      if (in_message_) {
        violation(ws_close_code::protocol_error, "a new message inside a fragmented one", at, out);
        return 0;
      }
      in_message_ = true;
      message_opcode_ = static_cast<WsOpcode>(opcode);
      message_ = std::move(payload);
      message_offset_ = at;
      message_frames_ = 1;
      break;
  }
  if (!fin) return used;
  in_message_ = false;
  if (message_opcode_ == WsOpcode::text && !valid_utf8(message_)) {
    violation(ws_close_code::invalid_payload, "invalid UTF-8 in a text message", message_offset_, out);
    return 0;
  }
  WsEvent& e = out.emplace_back();
  e.kind = WsEvent::message;
  e.opcode = message_opcode_;
  e.payload = std::move(message_);
  e.offset = message_offset_;
  e.frames = message_frames_;
  message_.clear();
  return used;
}

void WsDecoder::on_close(std::string payload, std::uint64_t at, std::vector<WsEvent>& out) {
  WsEvent e;
  e.kind = WsEvent::close;
  e.offset = at;
  if (payload.size() == 1) {
    violation(ws_close_code::protocol_error, "a close frame with a 1-byte payload", at, out);
    return;
  }
  if (payload.size() >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
    const int code = (p[0] << 8) | p[1];
    if (!ws_close_code_sendable(code)) {
      violation(ws_close_code::protocol_error, "a close frame with the invalid code " + std::to_string(code), at, out);
      return;
    }
    e.code = code;
    e.reason = payload.substr(2);
    if (!valid_utf8(e.reason)) {
      violation(ws_close_code::invalid_payload, "invalid UTF-8 in a close reason", at, out);
      return;
    }
  }
  e.payload = std::move(payload);
  out.push_back(std::move(e));
  stopped_ = true;
}

void WsDecoder::violation(int code, std::string problem, std::uint64_t at, std::vector<WsEvent>& out) {
  WsEvent& e = out.emplace_back();
  e.kind = WsEvent::violation;
  e.offset = at;
  e.violation_code = code;
  e.problem = std::move(problem);
  stopped_ = true;
  in_message_ = false;
  message_.clear();
}

void append_ws_frame(std::string& out, WsOpcode opcode, bool fin, std::string_view payload,
                     std::optional<std::uint32_t> mask) {
  const std::size_t n = payload.size();
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(opcode)));
  const char mask_bit = mask ? static_cast<char>(0x80) : 0;
  if (n <= 125) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF));
  }
  if (!mask) {
    out.append(payload);
    return;
  }
  unsigned char key[4] = {static_cast<unsigned char>(*mask >> 24), static_cast<unsigned char>(*mask >> 16),
                          static_cast<unsigned char>(*mask >> 8), static_cast<unsigned char>(*mask)};
  out.append(reinterpret_cast<const char*>(key), 4);
  const std::size_t at = out.size();
  out.append(payload);
  apply_mask(out.data() + at, n, key);
}

std::string ws_close_payload(std::optional<int> code, std::string_view reason) {
  std::string out;
  if (!code) return out;
  out.push_back(static_cast<char>((*code >> 8) & 0xFF));
  out.push_back(static_cast<char>(*code & 0xFF));
  out.append(reason.substr(0, 123));
  return out;
}

}  // namespace faultline::mcp
