#include "proxy/http_messages.hpp"

#include <algorithm>

#include "mcp/ndjson_codec.hpp"

namespace faultline::http_link {

std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string encode_frames(std::vector<WireFrame> frames) {
  if (frames.size() == 1 && !frames.front().frame.batch) return std::move(frames.front().frame.raw);
  std::vector<mcp::Frame> members;
  members.reserve(frames.size());
  for (auto& f : frames) members.push_back(std::move(f.frame));
  std::string out;
  mcp::append_batch_text(members, out);
  return out;
}

FramesSeen frames_seen(const std::vector<WireFrame>& frames) {
  FramesSeen seen;
  seen.reserve(frames.size());
  for (const auto& f : frames) seen.emplace_back(f.frame.offset, f.frame.raw);
  return seen;
}

bool same_frames(const std::vector<WireFrame>& frames, const FramesSeen& seen) {
  if (frames.size() != seen.size()) return false;
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (frames[i].frame.offset != seen[i].first || frames[i].frame.raw != seen[i].second) return false;
  return true;
}

bool any_match(const FrameMatch& match, const std::vector<WireFrame>& frames, const std::string& session) {
  if (match.empty()) return true;
  if (frames.empty()) return match.method.empty() && !match.id && match.kinds.empty() && match.session == session;
  return std::any_of(frames.begin(), frames.end(), [&](const WireFrame& f) { return match.matches(f); });
}

}  // namespace faultline::http_link
