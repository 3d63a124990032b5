#include "mcp/message_id.hpp"

#include <limits>

namespace faultline::mcp {

MessageId MessageId::integer(std::int64_t value) {
  MessageId id(Type::integer);
  id.bits_ = static_cast<std::uint64_t>(value);
  return id;
}

MessageId MessageId::unsigned_integer(std::uint64_t value) {
  MessageId id(Type::integer);
  id.bits_ = value;
  id.above_int64_ = value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return id;
}

MessageId MessageId::string(std::string value) {
  MessageId id(Type::string);
  id.text_ = std::move(value);
  return id;
}

std::size_t MessageId::hash() const {
  std::size_t h = type_ == Type::string ? std::hash<std::string>{}(text_) : std::hash<std::uint64_t>{}(bits_);
  return h ^ (static_cast<std::size_t>(type_) * 0x9e3779b97f4a7c15ULL) ^ (above_int64_ ? 0x51ed27ULL : 0);
}

std::optional<MessageId> MessageId::from_json(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return null();
    case nlohmann::json::value_t::string:
      return string(value.get_ref<const std::string&>());
    case nlohmann::json::value_t::number_integer:
      return integer(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return unsigned_integer(value.get<std::uint64_t>());
    default:
      return std::nullopt;
  }
}

nlohmann::json MessageId::to_json() const {
  switch (type_) {
    case Type::integer:
      if (above_int64_) return bits_;
      return static_cast<std::int64_t>(bits_);
    case Type::string: return text_;
    default: return nullptr;
  }
}

std::string MessageId::to_string() const {
  switch (type_) {
    case Type::absent: return "<none>";
    case Type::null: return "null";
    case Type::integer: return above_int64_ ? std::to_string(bits_) : std::to_string(static_cast<std::int64_t>(bits_));
    case Type::string: return to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return "<none>";
}

}  // namespace faultline::mcp
