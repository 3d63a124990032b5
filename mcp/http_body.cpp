#include "mcp/http_body.hpp"

#include <algorithm>

namespace faultline::mcp {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

void add_invalid(std::vector<Frame>& out, std::string_view raw, std::string reason, std::size_t offset) {
  Frame& frame = out.emplace_back();
  frame.raw.assign(raw);
  frame.problem = FrameProblem{std::move(reason), offset};
}

}  // namespace

BodyType body_type(std::string_view content_type) {
  const std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  if (iequals(media, "application/json")) return BodyType::json;
  if (iequals(media, "text/event-stream")) return BodyType::event_stream;
  return BodyType::other;
}

void decode_http_body(std::string_view body, std::vector<Frame>& out, const HttpBodyOptions& options) {
  if (body.size() > options.max_body_bytes) {
    add_invalid(out, body.substr(0, options.max_body_bytes),
                "body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                    std::to_string(options.max_body_bytes),
                options.max_body_bytes);
    return;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    add_invalid(out, body, "empty body", 0);
    return;
  }
  decode_json_text(body, 0, out, options.limits);
}

void HttpBodyDecoder::feed(std::string_view chunk) {
  bytes_fed_ += chunk.size();
  const std::size_t room = options_.max_body_bytes + 1 - std::min(body_.size(), options_.max_body_bytes + 1);
  body_.append(chunk.substr(0, room));  // one byte past the limit is enough to report it
}

void HttpBodyDecoder::finish(std::vector<Frame>& out) {
  if (bytes_fed_ > options_.max_body_bytes) {
    add_invalid(out, std::string_view(body_).substr(0, options_.max_body_bytes),
                "body of " + std::to_string(bytes_fed_) + " bytes exceeds the limit of " +
                    std::to_string(options_.max_body_bytes),
                options_.max_body_bytes);
  } else {
    decode_http_body(body_, out, options_);
  }
  body_.clear();
  bytes_fed_ = 0;
}

}  // namespace faultline::mcp
