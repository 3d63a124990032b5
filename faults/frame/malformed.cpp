// malformed: a matched message is broken the way `mode` says, to see what the
// peer's parser does with it. Byte modes (truncate, invalid_json, invalid_utf8,
// embedded_newline, oversized) edit the raw line; JSON-RPC modes edit the
// parsed message and re-serialize it. A mode that needs what the message does
// not have (an id, a parsed body) passes it on untouched and is not counted.
#include <algorithm>

#include "core/errors.hpp"
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

using json = nlohmann::json;

struct MalformedSettings {
  std::string mode;
  std::int64_t size;   // oversized: total line length in bytes
  std::string field;   // strip_field: a top-level member, or a JSON pointer
};

const std::vector<std::string> kModes = {"truncate",        "invalid_json",  "invalid_utf8",  "embedded_newline",
                                         "oversized",       "missing_jsonrpc", "wrong_jsonrpc", "wrong_id",
                                         "unknown_id",      "result_and_error", "strip_field"};

// Returns false when the mode does not apply to this frame.
bool apply(const MalformedSettings& s, mcp::Frame& f) {
  const auto& m = s.mode;
  if (m == "truncate") {
    if (f.raw.size() < 2) return false;
    f.raw.resize(f.raw.size() / 2);
    return true;
  }
  if (m == "invalid_json") {
    if (f.raw.empty()) return false;
    f.raw.back() = ']';  // {"a":1} -> {"a":1]
    return true;
  }
  if (m == "invalid_utf8") {
    // Into the first string value: "x":"... -> "x":"\xFF\xFE...
    const auto at = f.raw.find("\":\"");
    if (at == std::string::npos) return false;
    f.raw.insert(at + 3, "\xFF\xFE");
    return true;
  }
  if (m == "embedded_newline") {
    if (f.raw.size() < 2) return false;
    f.raw.insert(f.raw.size() / 2, "\n");
    return true;
  }
  if (!f.parsed || !mcp::ensure_message(f).is_object()) return false;
  json msg = f.message;
  if (m == "oversized") {
    const auto base = f.raw.size() + 10;  // ,"_pad":""
    const auto target = static_cast<std::size_t>(s.size);
    msg["_pad"] = std::string(target > base ? target - base : 0, 'x');
  } else if (m == "missing_jsonrpc") {
    msg.erase("jsonrpc");
  } else if (m == "wrong_jsonrpc") {
    msg["jsonrpc"] = "1.0";
  } else if (m == "wrong_id") {
    // The same id with the wrong type: 7 -> "7", "7" -> 7 ("abc" -> 0).
    if (!f.id.present() || f.id.is_null()) return false;
    if (f.id.is_integer()) {
      msg["id"] = std::to_string(f.id.as_integer());
    } else {
      const auto& text = f.id.as_string();
      const bool digits = !text.empty() && text.size() < 18 && std::all_of(text.begin(), text.end(), ::isdigit);
      msg["id"] = digits ? std::stoll(text) : 0;
    }
  } else if (m == "unknown_id") {
    if (!f.id.present()) return false;
    msg["id"] = f.id.is_string() ? json(f.id.as_string() + "#unknown") : json(f.id.is_integer() ? f.id.as_integer() + 1'000'000'007 : 1'000'000'007);
  } else if (m == "result_and_error") {
    if (msg.contains("result") == msg.contains("error")) return false;
    if (!msg.contains("error")) msg["error"] = {{"code", -32603}, {"message", "faultline: result_and_error"}};
    if (!msg.contains("result")) msg["result"] = json::object();
  } else if (m == "strip_field") {
    if (!s.field.empty() && s.field.front() == '/') {
      json::json_pointer ptr(s.field);
      if (ptr.empty() || !msg.contains(ptr)) return false;
      msg[ptr.parent_pointer()].erase(ptr.back());
    } else {
      if (!msg.contains(s.field)) return false;
      msg.erase(s.field);
    }
  } else {
    return false;
  }
  const auto offset = f.offset;
  const auto line_end = f.line_end;
  mcp::set_message(f, std::move(msg));
  f.offset = offset;
  f.line_end = line_end;
  f.batch.reset();
  return true;
}

class MalformedStage final : public FrameStage {
 public:
  explicit MalformedStage(MalformedSettings s) : s_(std::move(s)) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    auto detail = describe(frame);
    if (apply(s_, frame.frame)) {
      detail["mode"] = s_.mode;
      detail["bytes"] = frame.frame.raw.size();
      ctx.injected(std::move(detail));
    }
    co_await next.frame(std::move(frame));
  }

 private:
  MalformedSettings s_;
};

class MalformedFault final : public FrameFault {
 public:
  explicit MalformedFault(MalformedSettings s) : s_(std::move(s)) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<MalformedStage>(s_); }
  nlohmann::json attributes() const override {
    json a = {{"mode", s_.mode}};
    if (s_.mode == "oversized") a["size"] = s_.size;
    if (s_.mode == "strip_field") a["field"] = s_.field;
    return a;
  }

 private:
  MalformedSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_malformed_frame_fault(AttributeReader& a) {
  MalformedSettings s;
  s.mode = a.choice("mode", "invalid_json", kModes);
  s.size = a.integer("size", 16 * 1024 * 1024, 1, 1024LL * 1024 * 1024);
  s.field = a.string("field", "result");
  if (s.field.empty()) throw ConfigError(a.pointer() + "/field", "must not be empty");
  if (s.field.front() == '/') {
    try {
      json::json_pointer check(s.field);
    } catch (const json::exception&) {
      throw ConfigError(a.pointer() + "/field", "is not a valid JSON pointer");
    }
  }
  return std::make_shared<MalformedFault>(std::move(s));
}

}  // namespace faultline
