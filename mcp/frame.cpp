#include "mcp/frame.hpp"

#include <cstdio>
#include <optional>

#include "mcp/json_spans.hpp"

namespace faultline::mcp {
namespace {

using json = nlohmann::json;

void mark_invalid(Frame& frame, std::string reason, std::size_t offset) {
  frame.kind = FrameKind::invalid;
  frame.problem = FrameProblem{std::move(reason), offset};
}

// Offset of a top-level member's key in the frame's raw text (0 when not found).
std::size_t key_offset(const Frame& frame, std::string_view key) {
  const std::size_t at = top_level_key_offset(frame.raw, key);
  return at == std::string_view::npos ? 0 : at;
}

// nlohmann's message without its "[json.exception...] " prefix, safe to report.
std::string parse_error_reason(const json::exception& e) {
  std::string_view what = e.what();
  if (const auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
  return "not JSON: " + printable(what, 200);
}

const json* member(const json::object_t& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}


// What classify() reads from a message's top level; each member as its last
// occurrence (as the DOM keeps duplicate keys). Filled from the DOM or by TopLevelScan.
struct TopLevelFacts {
  bool object = false;
  bool has_jsonrpc = false, jsonrpc_ok = false;
  bool has_id = false;
  std::optional<MessageId> id;  // nullopt with has_id: not a valid id
  bool has_method = false, method_is_string = false;
  std::string method;
  bool has_result = false, has_error = false, error_is_object = false, error_code_ok = false,
       error_message_ok = false;
  bool has_params = false, params_ok = false;
};

TopLevelFacts facts_of(const json& message) {
  TopLevelFacts f;
  f.object = message.is_object();
  if (!f.object) return f;
  const auto& object = message.get_ref<const json::object_t&>();
  if (const json* id = member(object, "id")) {
    f.has_id = true;
    f.id = MessageId::from_json(*id);
  }
  if (const json* method = member(object, "method")) {
    f.has_method = true;
    f.method_is_string = method->is_string();
    if (f.method_is_string) f.method = method->get_ref<const std::string&>();
  }
  if (const json* version = member(object, "jsonrpc")) {
    f.has_jsonrpc = true;
    f.jsonrpc_ok = version->is_string() && version->get_ref<const std::string&>() == "2.0";
  }
  f.has_result = member(object, "result") != nullptr;
  if (const json* error = member(object, "error")) {
    f.has_error = true;
    f.error_is_object = error->is_object();
    if (f.error_is_object) {
      const auto& error_object = error->get_ref<const json::object_t&>();
      const json* code = member(error_object, "code");
      const json* text = member(error_object, "message");
      f.error_code_ok = code && code->is_number_integer();
      f.error_message_ok = text && text->is_string();
    }
  }
  if (const json* params = member(object, "params")) {
    f.has_params = true;
    f.params_ok = params->is_object() || params->is_array();
  }
  return f;
}

// Classifies a JSON text whose top level is not an array in one SAX pass:
// the whole text is validated (same parser, same errors as the DOM parse) but
// only the top-level members classify() reads are kept.
class TopLevelScan final : public nlohmann::json_sax<json> {
 public:
  TopLevelFacts facts;
  std::optional<FrameProblem> problem;  // the parse error, when the text is not JSON

  bool null() override { return scalar(Value::null); }
  bool boolean(bool) override { return scalar(Value::other); }
  bool number_integer(number_integer_t v) override {
    if (at_top_member(Member::id)) facts.id = MessageId::integer(v);
    return scalar(Value::integer);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (at_top_member(Member::id)) facts.id = MessageId::unsigned_integer(v);
    return scalar(Value::integer);
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(Value::other); }
  bool string(string_t& v) override {
    if (at_top_member(Member::id)) facts.id = MessageId::string(v);
    if (at_top_member(Member::method)) facts.method = v;
    if (at_top_member(Member::jsonrpc)) facts.jsonrpc_ok = v == "2.0";
    return scalar(Value::string);
  }
  bool binary(binary_t&) override { return scalar(Value::other); }
  bool start_object(std::size_t) override {
    container(Value::object);
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    container(Value::array);
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      member_ = k == "jsonrpc" ? Member::jsonrpc
                : k == "id"    ? Member::id
                : k == "method" ? Member::method
                : k == "result" ? Member::result
                : k == "error"  ? Member::error
                : k == "params" ? Member::params
                                : Member::other;
    } else if (depth_ == 2 && member_ == Member::error) {
      error_key_ = k == "code" ? ErrorKey::code : k == "message" ? ErrorKey::message : ErrorKey::other;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::size_t at = 0;
    if (const auto* pe = dynamic_cast<const json::parse_error*>(&e)) at = pe->byte > 0 ? pe->byte - 1 : 0;
    problem = FrameProblem{parse_error_reason(e), at};
    return false;
  }

 private:
  enum class Member : std::uint8_t { none, jsonrpc, id, method, result, error, params, other };
  enum class ErrorKey : std::uint8_t { none, code, message, other };
  enum class Value : std::uint8_t { null, integer, string, object, array, other };

  bool at_top_member(Member m) const { return depth_ == 1 && member_ == m; }

  // A value starts: at depth 0 it is the text; at depth 1 a top-level member; at depth 2 inside one.
  void value(Value v) {
    if (depth_ == 0) {
      facts.object = v == Value::object;
      return;
    }
    if (depth_ == 1) {
      switch (member_) {
        case Member::jsonrpc:
          facts.has_jsonrpc = true;
          if (v != Value::string) facts.jsonrpc_ok = false;
          break;
        case Member::id:
          facts.has_id = true;
          if (v == Value::null) facts.id = MessageId::null();
          if (v == Value::object || v == Value::array || v == Value::other) facts.id.reset();
          break;
        case Member::method:
          facts.has_method = true;
          facts.method_is_string = v == Value::string;
          if (!facts.method_is_string) facts.method.clear();
          break;
        case Member::result: facts.has_result = true; break;
        case Member::error:
          facts.has_error = true;
          facts.error_is_object = v == Value::object;
          facts.error_code_ok = facts.error_message_ok = false;
          break;
        case Member::params:
          facts.has_params = true;
          facts.params_ok = v == Value::object || v == Value::array;
          break;
        default: break;
      }
      return;
    }
    if (depth_ == 2 && member_ == Member::error) {
      if (error_key_ == ErrorKey::code) facts.error_code_ok = v == Value::integer;
      if (error_key_ == ErrorKey::message) facts.error_message_ok = v == Value::string;
    }
  }
  bool scalar(Value v) {
    value(v);
    return true;
  }
  void container(Value v) { value(v); }

  int depth_ = 0;
  Member member_ = Member::none;
  ErrorKey error_key_ = ErrorKey::none;
};

// The JSON-RPC 2.0 rules, applied to what the message's top level held.
void apply_rules(Frame& frame, TopLevelFacts& f) {
  frame.kind = FrameKind::invalid;
  frame.id = MessageId{};
  frame.method.clear();
  frame.problem.reset();
  if (!f.object) {
    mark_invalid(frame, "message is not a JSON object", 0);
    return;
  }
  // Pick up id and method first: even an invalid message is worth matching.
  const bool id_ok = !f.has_id || f.id.has_value();
  if (f.has_id && f.id) frame.id = std::move(*f.id);
  if (f.has_method && f.method_is_string) frame.method = std::move(f.method);

  if (!f.has_jsonrpc) {
    mark_invalid(frame, "missing \"jsonrpc\": \"2.0\"", 0);
    return;
  }
  if (!f.jsonrpc_ok) {
    mark_invalid(frame, "\"jsonrpc\" must be \"2.0\"", key_offset(frame, "jsonrpc"));
    return;
  }
  if (!id_ok) {
    mark_invalid(frame, "\"id\" must be a string, an integer or null", key_offset(frame, "id"));
    return;
  }
  if (f.has_method) {
    if (!f.method_is_string) {
      mark_invalid(frame, "\"method\" must be a string", key_offset(frame, "method"));
      return;
    }
    if (f.has_result || f.has_error) {
      mark_invalid(frame, "a request or notification cannot carry \"result\" or \"error\"",
                   key_offset(frame, f.has_result ? "result" : "error"));
      return;
    }
    if (f.has_params && !f.params_ok) {
      mark_invalid(frame, "\"params\" must be an object or an array", key_offset(frame, "params"));
      return;
    }
    frame.kind = frame.id.present() ? FrameKind::request : FrameKind::notification;
    return;
  }
  if (f.has_result && f.has_error) {
    mark_invalid(frame, "a response cannot carry both \"result\" and \"error\"", key_offset(frame, "error"));
    return;
  }
  if (!f.has_result && !f.has_error) {
    mark_invalid(frame, "neither \"method\" nor \"result\" or \"error\"", 0);
    return;
  }
  if (!frame.id.present()) {
    mark_invalid(frame, "a response must carry \"id\"", 0);
    return;
  }
  if (f.has_result) {
    if (frame.id.is_null()) {
      mark_invalid(frame, "a successful response must have a non-null \"id\"", key_offset(frame, "id"));
      return;
    }
    frame.kind = FrameKind::response;
    return;
  }
  const std::size_t error_at = key_offset(frame, "error");
  if (!f.error_is_object) {
    mark_invalid(frame, "\"error\" must be an object", error_at);
    return;
  }
  if (!f.error_code_ok) {
    mark_invalid(frame, "\"error\" needs an integer \"code\"", error_at);
    return;
  }
  if (!f.error_message_ok) {
    mark_invalid(frame, "\"error\" needs a string \"message\"", error_at);
    return;
  }
  frame.kind = FrameKind::error;
}

bool starts_array(std::string_view text) {
  std::size_t pos = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) ++pos;
  return pos < text.size() && text[pos] == '[';
}

// Marks a frame whose text nests deeper than the limit invalid before any
// parser sees it; true when it did.
bool refuse_too_deep(Frame& frame, const DecodeLimits& limits) {
  const std::size_t at = json_too_deep_at(frame.raw, limits.max_depth);
  if (at == std::string_view::npos) return false;
  mark_invalid(frame, "JSON nests deeper than " + std::to_string(limits.max_depth) + " levels", at);
  return true;
}

// Validates and classifies frame.raw, a single message (not a batch), in one
// SAX pass, leaving its message deferred.
void scan_single(Frame& frame) {
  const std::string_view text = frame.raw;
  TopLevelScan scan;
  if (!json::sax_parse(text.begin(), text.end(), &scan) || scan.problem) {
    mark_invalid(frame, scan.problem ? scan.problem->reason : "not JSON",
                 scan.problem ? std::min(scan.problem->offset, text.size()) : 0);
    return;
  }
  frame.parsed = true;
  frame.message_deferred = true;
  apply_rules(frame, scan.facts);
}

}  // namespace

std::string_view to_string(FrameKind kind) {
  switch (kind) {
    case FrameKind::request: return "request";
    case FrameKind::notification: return "notification";
    case FrameKind::response: return "response";
    case FrameKind::error: return "error";
    case FrameKind::invalid: return "invalid";
  }
  return "invalid";
}

std::string printable(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(bytes.size(), max_bytes) + 8);
  for (std::size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
      out.append(escaped, 4);
    }
  }
  if (bytes.size() > max_bytes) out += "...";
  return out;
}

const json& ensure_message(Frame& frame) {
  if (frame.message_deferred) {
    frame.message = json::parse(frame.raw);  // validated when it was decoded
    frame.message_deferred = false;
  }
  return frame.message;
}

const json& message_of(const Frame& frame, json& scratch) {
  if (!frame.message_deferred) return frame.message;
  scratch = json::parse(frame.raw);
  return scratch;
}

void classify(Frame& frame) {
  if (!frame.parsed) {
    frame.kind = FrameKind::invalid;
    frame.id = MessageId{};
    frame.method.clear();
    if (!frame.problem) frame.problem = FrameProblem{"not JSON", 0};
    return;
  }
  auto facts = facts_of(ensure_message(frame));
  apply_rules(frame, facts);
}

void decode_json_text(std::string_view text, std::uint64_t offset, std::vector<Frame>& out,
                      const DecodeLimits& limits) {
  Frame& frame = out.emplace_back();
  frame.raw.assign(text);
  frame.offset = offset;
  if (refuse_too_deep(frame, limits)) return;
  if (limits.defer_message && !starts_array(text)) {
    scan_single(frame);
    return;
  }
  try {
    frame.message = json::parse(text.begin(), text.end());
    frame.parsed = true;
  } catch (const json::parse_error& e) {
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    mark_invalid(frame, parse_error_reason(e), std::min(at, text.size()));
    return;
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    mark_invalid(frame, parse_error_reason(e), 0);
    return;
  }
  if (!frame.message.is_array()) {
    classify(frame);
    return;
  }

  // A batch: one frame per member, each with its own exact bytes.
  const std::size_t size = frame.message.size();
  if (size == 0 || size > limits.max_batch_size) {
    frame.batch = BatchSlot{0, 0, 0, nullptr};
    mark_invalid(frame, size == 0 ? "empty batch"
                                  : "batch of " + std::to_string(size) + " messages exceeds the limit of " +
                                        std::to_string(limits.max_batch_size),
                 0);
    return;
  }
  std::vector<ByteSpan> spans;
  spans.reserve(size);
  array_element_spans(text, spans);
  json members = std::move(frame.message);
  out.pop_back();
  auto batch_text = std::make_shared<const std::string>(text);
  const bool spans_ok = spans.size() == size;
  out.reserve(out.size() + size);
  for (std::size_t i = 0; i < size; ++i) {
    Frame& member_frame = out.emplace_back();
    member_frame.message = std::move(members[i]);
    member_frame.parsed = true;
    if (spans_ok) {
      member_frame.raw.assign(text.substr(spans[i].begin, spans[i].end - spans[i].begin));
      member_frame.offset = offset + spans[i].begin;
    } else {  // cannot happen for valid JSON; keep going with a faithful serialization
      member_frame.raw = member_frame.message.dump();
      member_frame.offset = offset;
    }
    member_frame.batch = BatchSlot{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(size),
                                   spans_ok ? spans[i].begin : 0, batch_text};
    classify(member_frame);
  }
}

void decode_owned_json_text(std::string&& text, std::uint64_t offset, std::vector<Frame>& out,
                            const DecodeLimits& limits) {
  if (!limits.defer_message || starts_array(text)) {
    decode_json_text(text, offset, out, limits);
    return;
  }
  Frame& frame = out.emplace_back();
  frame.raw = std::move(text);
  frame.offset = offset;
  if (refuse_too_deep(frame, limits)) return;
  scan_single(frame);
}

Frame make_frame(nlohmann::json message) {
  Frame frame;
  set_message(frame, std::move(message));
  return frame;
}

void set_message(Frame& frame, nlohmann::json message) {
  frame.raw = message.dump(-1, ' ', false, json::error_handler_t::replace);
  frame.message = std::move(message);
  frame.parsed = true;
  frame.message_deferred = false;
  frame.problem.reset();
  classify(frame);
}

}  // namespace faultline::mcp
