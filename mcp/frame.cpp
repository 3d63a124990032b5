#include "mcp/frame.hpp"

#include <cstdio>

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

void classify(Frame& frame) {
  frame.kind = FrameKind::invalid;
  frame.id = MessageId{};
  frame.method.clear();
  if (!frame.parsed) {
    if (!frame.problem) frame.problem = FrameProblem{"not JSON", 0};
    return;
  }
  frame.problem.reset();
  if (!frame.message.is_object()) {
    mark_invalid(frame, "message is not a JSON object", 0);
    return;
  }
  const auto& object = frame.message.get_ref<const json::object_t&>();

  // Pick up id and method first: even an invalid message is worth matching.
  bool id_ok = true;
  if (const json* id = member(object, "id")) {
    if (auto parsed_id = MessageId::from_json(*id)) {
      frame.id = std::move(*parsed_id);
    } else {
      id_ok = false;
    }
  }
  const json* method = member(object, "method");
  if (method && method->is_string()) frame.method = method->get_ref<const std::string&>();

  const json* version = member(object, "jsonrpc");
  if (!version) {
    mark_invalid(frame, "missing \"jsonrpc\": \"2.0\"", 0);
    return;
  }
  if (!version->is_string() || version->get_ref<const std::string&>() != "2.0") {
    mark_invalid(frame, "\"jsonrpc\" must be \"2.0\"", key_offset(frame, "jsonrpc"));
    return;
  }
  if (!id_ok) {
    mark_invalid(frame, "\"id\" must be a string, an integer or null", key_offset(frame, "id"));
    return;
  }
  const json* result = member(object, "result");
  const json* error = member(object, "error");

  if (method) {
    if (!method->is_string()) {
      mark_invalid(frame, "\"method\" must be a string", key_offset(frame, "method"));
      return;
    }
    if (result || error) {
      mark_invalid(frame, "a request or notification cannot carry \"result\" or \"error\"",
                   key_offset(frame, result ? "result" : "error"));
      return;
    }
    if (const json* params = member(object, "params"); params && !params->is_object() && !params->is_array()) {
      mark_invalid(frame, "\"params\" must be an object or an array", key_offset(frame, "params"));
      return;
    }
    frame.kind = frame.id.present() ? FrameKind::request : FrameKind::notification;
    return;
  }

  if (result && error) {
    mark_invalid(frame, "a response cannot carry both \"result\" and \"error\"", key_offset(frame, "error"));
    return;
  }
  if (!result && !error) {
    mark_invalid(frame, "neither \"method\" nor \"result\" or \"error\"", 0);
    return;
  }
  if (!frame.id.present()) {
    mark_invalid(frame, "a response must carry \"id\"", 0);
    return;
  }
  if (result) {
    if (frame.id.is_null()) {
      mark_invalid(frame, "a successful response must have a non-null \"id\"", key_offset(frame, "id"));
      return;
    }
    frame.kind = FrameKind::response;
    return;
  }
  const std::size_t error_at = key_offset(frame, "error");
  if (!error->is_object()) {
    mark_invalid(frame, "\"error\" must be an object", error_at);
    return;
  }
  const auto& error_object = error->get_ref<const json::object_t&>();
  const json* code = member(error_object, "code");
  if (!code || !(code->is_number_integer())) {
    mark_invalid(frame, "\"error\" needs an integer \"code\"", error_at);
    return;
  }
  const json* message = member(error_object, "message");
  if (!message || !message->is_string()) {
    mark_invalid(frame, "\"error\" needs a string \"message\"", error_at);
    return;
  }
  frame.kind = FrameKind::error;
}

void decode_json_text(std::string_view text, std::uint64_t offset, std::vector<Frame>& out,
                      const DecodeLimits& limits) {
  Frame& frame = out.emplace_back();
  frame.raw.assign(text);
  frame.offset = offset;
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

Frame make_frame(nlohmann::json message) {
  Frame frame;
  set_message(frame, std::move(message));
  return frame;
}

void set_message(Frame& frame, nlohmann::json message) {
  frame.raw = message.dump(-1, ' ', false, json::error_handler_t::replace);
  frame.message = std::move(message);
  frame.parsed = true;
  frame.problem.reset();
  classify(frame);
}

}  // namespace faultline::mcp
