#include "faults/frame_match.hpp"

#include <set>

#include "core/errors.hpp"

namespace faultline {
namespace {

std::optional<mcp::FrameKind> kind_named(std::string_view name) {
  using mcp::FrameKind;
  for (auto k : {FrameKind::request, FrameKind::response, FrameKind::error, FrameKind::notification,
                 FrameKind::invalid})
    if (mcp::to_string(k) == name) return k;
  return std::nullopt;
}

}  // namespace

nlohmann::json describe(const WireFrame& f) {
  nlohmann::json d = {{"frame_kind", std::string(mcp::to_string(f.frame.kind))}};
  if (!f.method.empty()) d["method"] = f.method;
  if (f.frame.id.present()) d["id"] = f.frame.id.to_json();
  if (!f.session.empty()) d["session"] = f.session;
  return d;
}

bool FrameMatch::matches(const WireFrame& f) const {
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), f.frame.kind) == kinds.end()) return false;
  if (id && !(f.frame.id == *id)) return false;
  if (!session.empty() && f.session != session) return false;
  if (!method.empty()) {
    if (method.back() == '*') {
      if (f.method.compare(0, method.size() - 1, method, 0, method.size() - 1) != 0) return false;
    } else if (f.method != method) {
      return false;
    }
  }
  return true;
}

nlohmann::json FrameMatch::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (!method.empty()) j["method"] = method;
  if (id) j["id"] = id->to_json();
  if (!kinds.empty()) {
    nlohmann::json k = nlohmann::json::array();
    for (auto kind : kinds) k.push_back(std::string(mcp::to_string(kind)));
    j["kind"] = k;
  }
  if (!session.empty()) j["session"] = session;
  return j;
}

std::vector<mcp::FrameKind> parse_frame_kinds(const nlohmann::json& value, const std::string& where) {
  std::vector<std::string> names;
  if (value.is_string()) {
    const auto text = value.get<std::string>();
    std::size_t pos = 0;
    while (pos <= text.size()) {
      auto bar = text.find('|', pos);
      if (bar == std::string::npos) bar = text.size();
      names.push_back(text.substr(pos, bar - pos));
      pos = bar + 1;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string()) throw ConfigError(where + "/" + std::to_string(i), "must be a kind name");
      names.push_back(value[i].get<std::string>());
    }
  } else {
    throw ConfigError(where, "must be a kind name or an array of them");
  }
  std::vector<mcp::FrameKind> kinds;
  for (const auto& n : names) {
    auto k = kind_named(n);
    if (!k) throw ConfigError(where, "unknown kind \"" + n + "\" (known: request, response, error, notification, invalid)");
    kinds.push_back(*k);
  }
  return kinds;
}

FrameMatch parse_frame_match(const nlohmann::json& match, const std::string& pointer) {
  FrameMatch m;
  if (match.is_null()) return m;
  if (!match.is_object()) throw ConfigError(pointer, "match must be an object {method, id, kind, session}");
  for (auto it = match.begin(); it != match.end(); ++it) {
    const std::string where = pointer + "/" + it.key();
    if (it.key() == "method") {
      if (!it->is_string() || it->get<std::string>().empty()) throw ConfigError(where, "must be a non-empty string");
      m.method = it->get<std::string>();
    } else if (it.key() == "id") {
      auto id = mcp::MessageId::from_json(*it);
      if (!id) throw ConfigError(where, "must be a JSON-RPC id (string, integer or null)");
      m.id = *id;
    } else if (it.key() == "kind") {
      m.kinds = parse_frame_kinds(*it, where);
    } else if (it.key() == "session") {
      if (!it->is_string() || it->get<std::string>().empty())
        throw ConfigError(where, "must be a non-empty string (an Mcp-Session-Id)");
      m.session = it->get<std::string>();
    } else {
      throw ConfigError(where, "unknown match field (known: method, id, kind, session)");
    }
  }
  return m;
}

}  // namespace faultline
