#include "faults/attribute_reader.hpp"

#include <charconv>
#include <cmath>
#include <csignal>

#include "core/errors.hpp"

namespace faultline {
namespace {

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                                   {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
                                   {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
                                   {"SEGV", SIGSEGV}, {"ABRT", SIGABRT}};

}  // namespace

std::optional<int> parse_signal(std::string_view text) {
  if (text.starts_with("SIG")) text.remove_prefix(3);
  for (const auto& s : kSignals)
    if (text == s.name) return s.number;
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc{} && end == text.data() + text.size() && n >= 1 && n <= 64) return n;
  return std::nullopt;
}

std::string signal_name(int signo) {
  for (const auto& s : kSignals)
    if (s.number == signo) return std::string("SIG") + s.name;
  return std::to_string(signo);
}

AttributeReader::AttributeReader(const nlohmann::json& attributes, std::string pointer, bool from_text)
    : attributes_(attributes), pointer_(std::move(pointer)), from_text_(from_text) {
  if (!attributes_.is_null() && !attributes_.is_object())
    throw ConfigError(pointer_, "attributes must be an object");
}

const nlohmann::json* AttributeReader::find(const std::string& key) {
  read_.insert(key);
  if (!attributes_.is_object()) return nullptr;
  auto it = attributes_.find(key);
  return it == attributes_.end() || it->is_null() ? nullptr : &*it;
}

double AttributeReader::as_number(const nlohmann::json& value, const std::string& where) const {
  if (value.is_string() && from_text_) {
    const auto text = value.get<std::string>();
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc{} || end != text.data() + text.size())
      throw ConfigError(where, "must be a number, got \"" + text + "\"");
    return d;
  }
  if (!value.is_number()) throw ConfigError(where, "must be a number, got " + std::string(value.type_name()));
  return value.get<double>();
}

std::optional<std::int64_t> AttributeReader::optional_integer(const std::string& key, std::int64_t min,
                                                              std::int64_t max) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  const std::string where = pointer_ + "/" + key;
  const auto range = [&] { return "must be from " + std::to_string(min) + " to " + std::to_string(max); };
  if (value->is_number_integer()) {  // exact, whatever its size
    if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(max))
      throw ConfigError(where, range() + ", got " + value->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const auto n = value->get<std::int64_t>();
    if (n < min || n > max) throw ConfigError(where, range() + ", got " + std::to_string(n));
    return n;
  }
  const double d = as_number(*value, where);
  if (!std::isfinite(d) || d != std::floor(d)) throw ConfigError(where, "must be a whole number");
  if (d < static_cast<double>(min) || d > static_cast<double>(max))
    throw ConfigError(where, range() + ", got " + nlohmann::json(d).dump());
  return static_cast<std::int64_t>(d);
}

std::int64_t AttributeReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                      std::int64_t max) {
  return optional_integer(key, min, max).value_or(fallback);
}

double AttributeReader::number(const std::string& key, double fallback, double min, double max) {
  const auto* value = find(key);
  if (!value) return fallback;
  const std::string where = pointer_ + "/" + key;
  const double d = as_number(*value, where);
  if (!std::isfinite(d) || d < min || d > max)
    throw ConfigError(where, "must be from " + nlohmann::json(min).dump() + " to " + nlohmann::json(max).dump());
  return d;
}

std::string AttributeReader::string(const std::string& key, std::string fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  if (!value->is_string())
    throw ConfigError(pointer_ + "/" + key, "must be a string, got " + std::string(value->type_name()));
  return value->get<std::string>();
}

std::string AttributeReader::choice(const std::string& key, std::string fallback,
                                    const std::vector<std::string>& allowed) {
  auto text = string(key, fallback);
  for (const auto& a : allowed)
    if (a == text) return text;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw ConfigError(pointer_ + "/" + key, "must be one of " + list + ", got \"" + text + "\"");
}

int AttributeReader::signal(const std::string& key, int fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  std::optional<int> signo;
  if (value->is_string()) signo = parse_signal(value->get<std::string>());
  if (value->is_number_integer() && value->get<std::int64_t>() >= 1 && value->get<std::int64_t>() <= 64)
    signo = static_cast<int>(value->get<std::int64_t>());
  if (!signo)
    throw ConfigError(pointer_ + "/" + key, "must be a signal name (SIGKILL, TERM, ...) or number, got " +
                                                  value->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return *signo;
}

void AttributeReader::finish() const {
  if (!attributes_.is_object()) return;
  for (auto it = attributes_.begin(); it != attributes_.end(); ++it)
    if (!read_.contains(it.key())) throw ConfigError(pointer_ + "/" + it.key(), "unknown attribute");
}

}  // namespace faultline
