#pragma once
// The id of a JSON-RPC message, kept exactly as it was sent (string, integer or
// null), so a response can be matched to its request: comparable, hashable,
// and a string id "1" never equals the integer id 1.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace faultline::mcp {

class MessageId {
 public:
  enum class Type : std::uint8_t { absent, null, integer, string };

  MessageId() = default;  // absent: the message had no "id" member
  static MessageId null() { return MessageId(Type::null); }
  static MessageId integer(std::int64_t value);
  static MessageId unsigned_integer(std::uint64_t value);  // above INT64_MAX keeps its exact value
  static MessageId string(std::string value);

  // The id a JSON value denotes, or nullopt when it is not a valid JSON-RPC id
  // (fractional number, boolean, object, array).
  static std::optional<MessageId> from_json(const nlohmann::json& value);

  Type type() const { return type_; }
  bool present() const { return type_ != Type::absent; }
  bool is_null() const { return type_ == Type::null; }
  bool is_integer() const { return type_ == Type::integer; }
  bool is_string() const { return type_ == Type::string; }

  // Accessors; each is valid only for its type (as_integer: not for values above INT64_MAX).
  std::int64_t as_integer() const { return static_cast<std::int64_t>(bits_); }
  const std::string& as_string() const { return text_; }

  nlohmann::json to_json() const;  // absent becomes null
  std::string to_string() const;   // for logs and reports: 42, "abc", null, <none>

  friend bool operator==(const MessageId&, const MessageId&) = default;
  std::size_t hash() const;

 private:
  explicit MessageId(Type type) : type_(type) {}
  Type type_ = Type::absent;
  bool above_int64_ = false;  // bits_ holds an unsigned value above INT64_MAX
  std::uint64_t bits_ = 0;    // the integer's two's-complement bits
  std::string text_;          // the string id
};

struct MessageIdHash {
  std::size_t operator()(const MessageId& id) const { return id.hash(); }
};

}  // namespace faultline::mcp

template <>
struct std::hash<faultline::mcp::MessageId> {
  std::size_t operator()(const faultline::mcp::MessageId& id) const { return id.hash(); }
};
