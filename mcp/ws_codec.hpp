#pragma once
// The WebSocket transport's framing (RFC 6455, no extensions): WsDecoder turns
// the bytes of one side of a connection (after the HTTP upgrade) into whole
// messages and control frames, checking every protocol rule a correct peer
// checks; the encoder writes frames back. A websocket link decodes both sides
// with it so that messages, pings, pongs and close frames cross as themselves
// and frame faults act per message. No networking here.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::mcp {

enum class WsOpcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes this codec uses (RFC 6455 section 7.4.1).
namespace ws_close_code {
inline constexpr int normal = 1000;
inline constexpr int going_away = 1001;
inline constexpr int protocol_error = 1002;
inline constexpr int invalid_payload = 1007;
inline constexpr int too_big = 1009;
inline constexpr int internal_error = 1011;
}  // namespace ws_close_code

// Whether `code` may be sent in a close frame (1005, 1006, 1015 and the
// unassigned ranges may not).
bool ws_close_code_sendable(int code);

// One thing a peer sent: a whole message (its fragments joined), a control
// frame, or the protocol violation that ends decoding.
struct WsEvent {
  enum Kind : std::uint8_t { message, ping, pong, close, violation } kind = message;
  WsOpcode opcode = WsOpcode::text;  // message: text or binary
  std::string payload;               // message, ping, pong: the data; close: the raw close payload
  std::uint64_t offset = 0;          // stream offset of the first frame's header
  std::uint32_t frames = 1;          // message: how many frames it came in
  // close: the code and reason (no code: an empty close payload)
  std::optional<int> code;
  std::string reason;
  // violation: the close code a correct endpoint answers with (1002, 1007, 1009) and why
  int violation_code = 0;
  std::string problem;
};

struct WsDecoderOptions {
  bool from_client = true;  // frames from a client must be masked, frames from a server must not be
  std::size_t max_message_bytes = 32u << 20;  // a larger message (declared or assembled) is a 1009 violation
};

class WsDecoder {
 public:
  explicit WsDecoder(WsDecoderOptions options = {});

  // Appends what `bytes` completes to `out`. After a violation or a close
  // frame the decoder stops: later bytes are counted, not decoded.
  void feed(std::string_view bytes, std::vector<WsEvent>& out);

  bool stopped() const { return stopped_; }
  std::uint64_t bytes_fed() const { return stream_pos_; }
  std::size_t buffered_bytes() const { return pending_.size() + message_.size(); }

 private:
  // Decodes one frame from the front of `data` (at stream offset `at`); returns
  // the bytes it used (0: incomplete, or a violation stopped decoding).
  std::size_t decode_frame(std::string_view data, std::uint64_t at, std::vector<WsEvent>& out);
  void violation(int code, std::string problem, std::uint64_t at, std::vector<WsEvent>& out);
  void on_close(std::string payload, std::uint64_t at, std::vector<WsEvent>& out);

  WsDecoderOptions options_;
  std::string pending_;  // the start of a frame not yet complete
  std::uint64_t stream_pos_ = 0;
  std::uint64_t pending_offset_ = 0;
  bool stopped_ = false;
  // A fragmented message in progress.
  bool in_message_ = false;
  WsOpcode message_opcode_ = WsOpcode::text;
  std::string message_;
  std::uint64_t message_offset_ = 0;
  std::uint32_t message_frames_ = 0;
};

// Appends one frame. `mask` set: the payload is masked with it (a client's frames).
void append_ws_frame(std::string& out, WsOpcode opcode, bool fin, std::string_view payload,
                     std::optional<std::uint32_t> mask = std::nullopt);

// A close frame's payload: the code (big endian) and reason; empty when code is nullopt.
std::string ws_close_payload(std::optional<int> code, std::string_view reason);

// Whether `text` is well-formed UTF-8.
bool valid_utf8(std::string_view text);

}  // namespace faultline::mcp
