// libFuzzer target: the `faultline proxy --config FILE` loader: read_json_file (proxy/proxy_config) on the
// bytes as a file, then LinkRegistry::populate, which validates every link and toxic before it starts any.
// No socket is bound: the links are populated disabled (Link::start binds only enabled links).
// Checks: errors are ConfigError / ErrorException `invalid` values naming a place (the file, or a JSON pointer in it),
// nothing else escapes; a valid config gives one link per entry with the names, addresses, protocol,
// max_message and toxics given; and the links rendered as GET /proxies renders them (link_json),
// populated again, render the same.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_place.hpp"
#include "runtime/link_registry.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/proxy_env.hpp"

namespace {

using faultline::ErrorException;
using faultline::ConfigError;
using nlohmann::json;

std::string_view g_input;

// The config as a file: one memfd, rewritten for each input.
const std::string& config_path(std::string_view text) {
  static const int fd = memfd_create("fuzz_config", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()));
  return path;
}

// The place an ErrorException's message starts with ("/0/toxics/1/type: ...") must be one of `doc`.
void check_api_error(const ErrorException& e, const json& doc) {
  FUZZ_CHECK(e.error().kind == faultline::Error::Kind::invalid);
  const std::string_view what = e.what();
  if (!what.starts_with("/")) {
    FUZZ_CHECK(!doc.is_array());  // only "populate takes a JSON array of proxies" names the whole document
    return;
  }
  // A key may hold ": " itself: any split that names a place will do.
  bool found = false, unescaped = false;
  for (auto at = what.find(": "); at != std::string_view::npos && !found; at = what.find(": ", at + 1))
    found = faultline::fuzz::names_place(doc, what.substr(0, at), unescaped);
  if (!found) {
    std::fprintf(stderr, "config error names no place of the input: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  if (unescaped)
    faultline::fuzz::report_once("a config error's JSON pointer holds a key with '/' or '~' unescaped", g_input);
  (void)json(std::string(what)).dump();  // the admin API answers {"error": what}: valid UTF-8
}

// `links` with every entry's "enabled" set false where it is a valid value (true, false or null), so that
// populate starts nothing that listens; the given values, to put back in what link_json renders.
json disabled(const json& links, std::vector<bool>& enabled) {
  json out = links;
  for (auto& entry : out) {
    bool on = true;
    if (entry.is_object()) {
      auto it = entry.find("enabled");
      if (it == entry.end() || it->is_null() || it->is_boolean()) {
        if (it != entry.end() && it->is_boolean()) on = it->get<bool>();
        entry["enabled"] = false;
      }
    }
    enabled.push_back(on);
  }
  return out;
}

// The links of `links` populated in a fresh registry, rendered as GET /proxies renders them,
// by name. Throws what populate throws.
std::map<std::string, json> populate(const json& links) {
  boost::asio::io_context io;
  faultline::EventLog events;
  faultline::ProxyEnv env{events, 1, 8u << 20, {}};
  faultline::LinkRegistry registry(io.get_executor(), env);
  std::vector<bool> enabled;
  const auto started = registry.populate(disabled(links, enabled));
  FUZZ_CHECK(started.size() == links.size());
  std::map<std::string, json> out;
  for (std::size_t i = 0; i < started.size(); ++i) {
    FUZZ_CHECK(!started[i]->listening());
    json j = faultline::LinkRegistry::link_json(*started[i]);
    j["enabled"] = enabled[i];
    FUZZ_CHECK(out.emplace(started[i]->name(), std::move(j)).second);
  }
  FUZZ_CHECK(registry.links().size() == links.size());
  return out;
}

void check_link(const json& given, const json& rendered) {
  FUZZ_CHECK(rendered.at("name") == given.at("name"));
  FUZZ_CHECK(rendered.at("upstream") == given.at("upstream"));
  if (given.contains("listen") && given["listen"].is_string() && !given["listen"].get_ref<const std::string&>().empty())
    FUZZ_CHECK(rendered.at("listen") == given["listen"]);
  if (given.contains("protocol") && given["protocol"].is_string() && !given["protocol"].get_ref<const std::string&>().empty())
    FUZZ_CHECK(rendered.at("protocol") == given["protocol"]);
  if (given.contains("max_message") && !given["max_message"].is_null())
    FUZZ_CHECK(rendered.at("max_message") == given["max_message"]);
  else
    FUZZ_CHECK(!rendered.contains("max_message"));
  const auto toxics = given.find("toxics");
  const std::size_t n = toxics == given.end() || toxics->is_null() ? 0 : toxics->size();
  FUZZ_CHECK(rendered.at("toxics").size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& t = (*toxics)[i];
    if (t.contains("type")) FUZZ_CHECK(rendered["toxics"][i].at("type") == t["type"]);
    if (t.contains("name") && !t["name"].is_null()) FUZZ_CHECK(rendered["toxics"][i].at("name") == t["name"]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  g_input = text;
  const std::string& path = config_path(text);

  json links;
  try {
    links = faultline::read_json_file(path);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(e.where() == path);
    FUZZ_CHECK(json::parse(text, nullptr, false).is_discarded());
    return 0;
  } catch (const json::out_of_range& e) {
    // Known: read_json_file catches parse_error only; a number out of range (1e400) escapes as a
    // json::out_of_range, and `faultline proxy --config` exits 1 with the raw message instead of 2.
    if (e.id != 406) {
      std::fprintf(stderr, "fuzz_config: read_json_file let an out_of_range escape: %s\n", e.what());
      std::abort();
    }
    faultline::fuzz::report_once("read_json_file lets json::out_of_range 406 (a number too large) escape, not a ConfigError", text);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_config: read_json_file let a %s escape: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  FUZZ_CHECK(links == json::parse(text));
  if (!links.is_array()) return 0;  // run_proxy refuses it: "must hold a JSON array of proxies"

  std::map<std::string, json> first;
  try {
    first = populate(links);
  } catch (const ErrorException& e) {
    check_api_error(e, links);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_config: populate let a %s escape: %s\n", typeid(e).name(), e.what());
    std::abort();
  }

  // A valid config: one link per entry, as given.
  for (const auto& given : links) {
    const auto it = first.find(given.at("name").get<std::string>());
    FUZZ_CHECK(it != first.end());
    check_link(given, it->second);
  }

  // GET /proxies, then POST /populate with it: the same links.
  json listed = json::array();
  for (const auto& [name, j] : first) listed.push_back(j);
  std::string listed_text;
  try {
    listed_text = listed.dump();
  } catch (const json::type_error& e) {
    std::fprintf(stderr, "fuzz_config: the links of a valid config do not render as JSON: %s\n", e.what());
    std::abort();
  }
  try {
    const auto second = populate(json::parse(listed_text));
    FUZZ_CHECK(second == first);
  } catch (const ErrorException& e) {
    std::fprintf(stderr, "fuzz_config: the rendered links are refused: %s\n  rendered: %s\n", e.what(), listed_text.c_str());
    std::abort();
  }
  return 0;
}
