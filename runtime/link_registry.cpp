#include "runtime/link_registry.hpp"

#include <set>

#include "core/errors.hpp"

namespace faultline {

namespace {

// Runs `f`, rethrowing validation and start-up errors as ErrorException.
template <class F>
auto as_error(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ConfigError& e) {
    throw ErrorException(Error::from(e));
  } catch (const StartupError& e) {
    throw ErrorException(Error::Kind::failed, e.what());
  }
}

// A max_message value: a whole number of bytes (its range is validate_link_config's);
// null is none.
std::optional<std::uint64_t> read_max_message(const nlohmann::json& value, const std::string& where) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<std::int64_t>() < 0))
    throw ConfigError(where, max_message_range() + ", got " + value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return value.get<std::uint64_t>();
}

}  // namespace

nlohmann::json LinkRegistry::link_json(const Link& link) { return link.describe(); }

LinkRegistry::Parsed LinkRegistry::parse(const nlohmann::json& body, const std::string& pointer) {
  if (!body.is_object()) throw ConfigError(pointer, "a proxy must be a JSON object");
  static const std::set<std::string> known = {"name",     "listen",      "upstream", "enabled",
                                              "protocol", "max_message", "toxics"};
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!known.contains(it.key())) throw ConfigError(pointer + "/" + it.key(), "unknown field");
  auto text = [&](const char* key, bool required) -> std::string {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
      if (required) throw ConfigError(pointer + "/" + key, std::string("missing required field ") + key);
      return {};
    }
    if (!it->is_string()) throw ConfigError(pointer + "/" + key, "must be a string");
    return it->get<std::string>();
  };
  Parsed p;
  p.config.name = text("name", true);
  p.config.listen = text("listen", false);
  if (p.config.listen.empty()) p.config.listen = "127.0.0.1:0";
  p.config.upstream = text("upstream", true);
  if (auto protocol = text("protocol", false); !protocol.empty()) p.config.protocol = protocol;
  if (auto it = body.find("enabled"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw ConfigError(pointer + "/enabled", "must be true or false");
    p.config.enabled = it->get<bool>();
  }
  if (auto it = body.find("max_message"); it != body.end())
    p.config.max_message = read_max_message(*it, pointer + "/max_message");
  validate_link_config(p.config, pointer);
  if (auto it = body.find("toxics"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw ConfigError(pointer + "/toxics", "must be an array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto where = pointer + "/toxics/" + std::to_string(i);
      auto spec = make_fault(parse_fault((*it)[i], where));
      check_fault_fits_protocol(*spec, p.config.protocol, where);
      if (!names.insert(spec->name).second) throw ConfigError(where + "/name", "duplicate fault name " + spec->name);
      p.faults.push_back(std::move(spec));
    }
  }
  return p;
}

std::shared_ptr<Link> LinkRegistry::start_link(Parsed parsed) {
  auto link = std::make_shared<Link>(ex_, parsed.config, env_);
  for (auto& f : parsed.faults) link->add_fault(f);  // before start: a down fault keeps it from listening
  link->start();
  links_[link->name()] = link;
  return link;
}

std::shared_ptr<Link> LinkRegistry::create(const nlohmann::json& body, const std::string& pointer) {
  return as_error([&] {
    auto parsed = parse(body, pointer);
    if (links_.contains(parsed.config.name)) throw ErrorException(Error::Kind::conflict, "proxy already exists");
    return start_link(std::move(parsed));
  });
}

std::vector<LinkRegistry::Parsed> LinkRegistry::parse_all(const nlohmann::json& body) {
  if (!body.is_array()) throw ConfigError("", "populate takes a JSON array of proxies");
  std::vector<Parsed> all;
  std::set<std::string> names;
  for (std::size_t i = 0; i < body.size(); ++i) {
    all.push_back(parse(body[i], "/" + std::to_string(i)));
    if (!names.insert(all.back().config.name).second)
      throw ConfigError("/" + std::to_string(i) + "/name", "duplicate proxy name " + all.back().config.name);
  }
  return all;
}

void LinkRegistry::check_populate(const nlohmann::json& body) { parse_all(body); }

std::vector<std::shared_ptr<Link>> LinkRegistry::populate(const nlohmann::json& body) {
  return as_error([&] {
    // Validate everything first: nothing is applied when any entry is bad.
    std::vector<Parsed> all = parse_all(body);
    std::vector<std::shared_ptr<Link>> started;
    std::vector<Parsed> replaced;  // as they were, to put back if a later entry fails
    try {
      for (auto& p : all) {
        if (auto it = links_.find(p.config.name); it != links_.end()) {
          replaced.push_back({it->second->config(), it->second->faults()});
          it->second->stop("replaced by populate");
          links_.erase(it);
        }
        started.push_back(start_link(std::move(p)));
      }
    } catch (...) {
      // Roll back: what this call started goes, what it replaced comes back
      // (on the address it had; its open connections are not restored).
      for (auto& l : started) {
        l->stop("populate failed");
        links_.erase(l->name());
      }
      for (auto& old : replaced) {
        const std::string name = old.config.name;
        try {
          start_link(std::move(old));
        } catch (const std::exception& e) {
          env_.events.emit("proxy:" + name, "link.lost",
                           {{"reason", "populate failed and the link could not be restored: " + std::string(e.what())}});
        }
      }
      throw;
    }
    return started;
  });
}

std::shared_ptr<Link> LinkRegistry::get(const std::string& name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : it->second;
}

std::shared_ptr<Link> LinkRegistry::find(const std::string& name) const {
  auto link = get(name);
  if (!link) throw ErrorException(Error::Kind::not_found, "proxy not found");
  return link;
}

std::shared_ptr<Link> LinkRegistry::update(const std::string& name, const nlohmann::json& body) {
  auto link = find(name);
  return as_error([&] {
    if (!body.is_object()) throw ConfigError("", "a proxy update must be a JSON object");
    LinkConfig next = link->config();
    std::string listen = link->config().listen;
    for (auto it = body.begin(); it != body.end(); ++it) {
      const auto& key = it.key();
      if (key == "name") {
        if (!it->is_string() || it->get<std::string>() != name) throw ConfigError("/name", "a proxy cannot be renamed");
      } else if (key == "listen" || key == "upstream") {
        if (!it->is_string()) throw ConfigError("/" + key, "must be a string");
        (key == "listen" ? listen : next.upstream) = it->get<std::string>();
      } else if (key == "protocol") {
        if (!it->is_string() || it->get<std::string>() != link->config().protocol)
          throw ConfigError("/protocol", "a link's protocol cannot be changed; delete the link and create it again");
      } else if (key == "max_message") {
        if (read_max_message(*it, "/max_message") != link->config().max_message)
          throw ConfigError("/max_message",
                            "a link's max_message cannot be changed; delete the link and create it again");
      } else if (key == "enabled") {
        if (!it->is_boolean()) throw ConfigError("/enabled", "must be true or false");
        next.enabled = it->get<bool>();
      } else if (key != "toxics") {
        throw ConfigError("/" + key, "unknown field");
      }
    }
    next.listen = listen;
    validate_link_config(next, "");
    link->set_listen(listen);
    link->set_upstream(next.upstream);
    link->set_enabled(next.enabled);
    return link;
  });
}

void LinkRegistry::remove(const std::string& name) {
  auto link = find(name);
  link->stop("proxy deleted");
  links_.erase(name);
}

void LinkRegistry::reset() {
  as_error([&] {
    for (auto& [name, link] : links_) {
      link->remove_all_faults();
      link->set_enabled(true);
    }
    return 0;
  });
}

void LinkRegistry::stop_all(const std::string& reason) {
  for (auto& [name, link] : links_) link->stop(reason);
}

void LinkRegistry::drain_all(std::chrono::milliseconds grace, const std::string& reason) {
  for (auto& [name, link] : links_) link->drain(grace, reason);
}

std::size_t LinkRegistry::open_sessions() const {
  const auto n = env_.sessions_alive.load();
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

}  // namespace faultline
