#pragma once
// Streamable HTTP bodies: a POST body from the client or an application/json
// response from the server holds one JSON-RPC message or a batch. This turns a
// body into Frames and tells JSON bodies from SSE streams by Content-Type.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/frame.hpp"

namespace faultline::mcp {

enum class BodyType : std::uint8_t { json, event_stream, other };

// "application/json; charset=utf-8" -> json, "text/event-stream" -> event_stream
// (media type compared case-insensitively, parameters ignored).
BodyType body_type(std::string_view content_type);

struct HttpBodyOptions {
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  DecodeLimits limits;
};

// Appends the frames of a complete body. An empty body, a body over the limit
// or a body that is not JSON becomes one invalid frame; offsets count from the
// start of the body.
void decode_http_body(std::string_view body, std::vector<Frame>& out, const HttpBodyOptions& options = {});

// Collects a body that arrives in chunks, up to the limit, then decodes it.
class HttpBodyDecoder {
 public:
  explicit HttpBodyDecoder(HttpBodyOptions options = {}) : options_(options) {}

  void feed(std::string_view chunk);
  void finish(std::vector<Frame>& out);  // decodes what was collected and resets
  std::uint64_t bytes_fed() const { return bytes_fed_; }

 private:
  HttpBodyOptions options_;
  std::string body_;
  std::uint64_t bytes_fed_ = 0;
};

}  // namespace faultline::mcp
