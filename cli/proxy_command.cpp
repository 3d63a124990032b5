// `faultline proxy`: the TCP chaos proxy. With no arguments it serves the
// admin API on 127.0.0.1:8474 and no links, as toxiproxy-server does; with
// --listen/--upstream it serves one link, with --config a file of links.

#include <charconv>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "cli/runtime_options.hpp"
#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "proxy/proxy_config.hpp"
#include "runtime/admin_api.hpp"
#include "runtime/runtime.hpp"

namespace faultline::cli {
namespace {

// The longest --duration: a year, in seconds.
constexpr double kMaxDurationSeconds = 365.0 * 24 * 3600;

struct ProxyOptions {
  std::string name = "link";
  std::string listen;
  std::string upstream;
  std::string protocol = "tcp";
  std::optional<std::uint64_t> max_message;
  std::vector<std::string> faults;
  std::string config;
  ApiOptions api;
  std::optional<std::uint64_t> seed;
  EventsOptions events;
  double duration = 0;
  double grace = 2.0;
  unsigned threads = WorkerPool::default_threads();
};

void check_upstream_resolves(const std::string& upstream, const std::string& where) {
  auto hp = parse_host_port(upstream);
  if (!hp) return;  // not HOST:PORT: validation names it
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec) throw StartupError(where + ": upstream " + upstream + " does not resolve: " + ec.message());
}

// A listen host given as a name (not an IP address or localhost) is looked up
// here, once, at startup: the link listens on its first address. (The admin
// API does not look names up: a slow resolver would stall every link.)
void resolve_listen_name(nlohmann::json& link, const std::string& where) {
  if (!link.is_object() || !link.contains("listen") || !link["listen"].is_string()) return;
  const auto listen = link["listen"].get<std::string>();
  const auto hp = parse_host_port(listen);
  if (!hp || listen_address(hp->host)) return;  // not HOST:PORT (validation says so), or an address
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(hp->host, std::to_string(hp->port),
                                        boost::asio::ip::resolver_base::passive |
                                            boost::asio::ip::resolver_base::numeric_service,
                                        ec);
  if (!ec && results.empty()) ec = boost::asio::error::host_not_found;
  if (ec) throw StartupError(where + ": listen host " + hp->host + " does not resolve: " + ec.message());
  const auto address = results.begin()->endpoint().address();
  link["listen"] = HostPort{address.to_string(), hp->port}.to_string();
}

nlohmann::json single_link(const ProxyOptions& o) {
  nlohmann::json toxics = nlohmann::json::array();
  for (const auto& text : o.faults) toxics.push_back(parse_fault_text(text).to_json());
  nlohmann::json link = {
      {"name", o.name}, {"listen", o.listen}, {"upstream", o.upstream}, {"protocol", o.protocol}, {"toxics", toxics}};
  if (o.max_message) link["max_message"] = *o.max_message;
  return nlohmann::json::array({link});
}

// A problem found in the one link built from the command line, blamed on the
// option that gave the bad value ("/0/toxics/1/type" is the second --fault).
ConfigError blame_option(const ProxyOptions& o, const ConfigError& e) {
  const std::string& where = e.where();
  const std::string toxics = "/0/toxics/";
  if (where.starts_with(toxics)) {
    std::size_t index = 0;
    const auto* first = where.data() + toxics.size();
    const auto [end, ec] = std::from_chars(first, where.data() + where.size(), index);
    if (ec == std::errc{} && index < o.faults.size()) {
      const std::string rest(end, where.data() + where.size());
      return ConfigError("--fault " + o.faults[index], rest.empty() ? e.message() : rest + ": " + e.message());
    }
  }
  static const std::pair<const char*, const char*> kFields[] = {{"/0/listen", "--listen"},
                                                                {"/0/upstream", "--upstream"},
                                                                {"/0/name", "--name"},
                                                                {"/0/protocol", "--protocol"},
                                                                {"/0/max_message", "--max-message"}};
  for (const auto& [pointer, option] : kFields)
    if (where == pointer) return ConfigError(option, e.message());
  return ConfigError("--listen/--upstream", e.what());
}

int run_proxy(const ProxyOptions& o) {
  if (o.listen.empty() != o.upstream.empty()) throw ConfigError("--listen/--upstream", "give both, or neither");
  if (!o.faults.empty() && o.listen.empty()) throw ConfigError("--fault", "needs --listen and --upstream");
  if (o.max_message && o.listen.empty())
    throw ConfigError("--max-message", "needs --listen and --upstream (a config file gives max_message per link)");
  if (!o.config.empty() && !o.listen.empty()) throw ConfigError("--config", "give --config or --listen, not both");

  nlohmann::json links = nlohmann::json::array();
  if (!o.listen.empty()) links = single_link(o);
  if (!o.config.empty()) {
    links = read_json_file(o.config);
    if (!links.is_array()) throw ConfigError(o.config, "must hold a JSON array of proxies");
  }
  // Where the value at a JSON pointer of `links` came from, for messages.
  auto place = [&](std::size_t i, const char* field) {
    return o.config.empty() ? "--" + std::string(field) : o.config + " /" + std::to_string(i) + "/" + field;
  };
  ApiOptions api = o.api;
  if (api.address.empty() && links.empty()) api.address = "127.0.0.1:8474";
  check_api_options(api);
  for (std::size_t i = 0; i < links.size(); ++i) resolve_listen_name(links[i], place(i, "listen"));
  try {
    LinkRegistry::check_populate(links);
  } catch (const ConfigError& e) {
    if (o.config.empty()) throw blame_option(o, e);
    throw ConfigError(o.config, e.what());
  }
  for (std::size_t i = 0; i < links.size(); ++i) {
    if (links[i].is_object() && links[i].contains("upstream") && links[i]["upstream"].is_string())
      check_upstream_resolves(links[i]["upstream"].get<std::string>(), place(i, "upstream"));
  }

  RuntimeOptions options;
  options.source = "proxy";
  options.seed = o.seed;
  options.threads = o.threads;
  const auto owner = start_runtime(std::move(options), o.events);
  Runtime& runtime = *owner;
  std::vector<std::shared_ptr<Link>> started;
  try {
    started = runtime.links().populate(links);
  } catch (const ErrorException& e) {
    if (e.error().kind == Error::Kind::invalid) throw ConfigError(o.config.empty() ? "--listen" : o.config, e.what());
    throw StartupError(e.what());
  }
  AdminApi* admin = api.address.empty() ? nullptr : &runtime.serve_api(api.address, api.token);
  // Started: only now is anything but an error printed.
  spdlog::info("seed {}", runtime.seed());
  for (const auto& link : started)
    spdlog::info("link {}: {} -> {} ({} faults)", link->name(), link->config().listen, link->config().upstream,
                 link->faults().size());
  if (admin) spdlog::info("admin API on http://{}", admin->address());

  const auto grace = std::chrono::milliseconds(static_cast<long long>(o.grace * 1000));
  runtime.drain_on_signals(grace);
  if (o.duration > 0)
    runtime.stop_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(o.duration)),
                       grace, "--duration elapsed");
  runtime.run();
  runtime.end();
  return kExitOk;
}

}  // namespace

void register_proxy_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<ProxyOptions>();
  auto* cmd = root.add_subcommand("proxy", "Run the TCP chaos proxy (Toxiproxy-compatible admin API)");
  cmd->add_option("--listen", opts->listen, "Serve one link: listen on HOST:PORT");
  cmd->add_option("--upstream", opts->upstream, "Serve one link: forward to HOST:PORT");
  cmd->add_option("--name", opts->name, "Name of the one link")->capture_default_str();
  cmd->add_option("--protocol", opts->protocol, "Protocol of the one link: " + link_protocols())
      ->capture_default_str();
  cmd->add_option("--max-message", opts->max_message,
                  "Largest message the one link decodes, in bytes (websocket and http links; default 32 MiB for "
                  "websocket, 16 MiB for an http request body)")
      ->check(whole_number_in(kMinMaxMessage, kMaxMaxMessage, "a whole number of bytes"));
  cmd->add_option("--fault", opts->faults,
                  "Fault on the one link: TYPE[,KEY=VALUE...] with keys name, stream (upstream|downstream), "
                  "toxicity, after/for (a duration: 500ms, 2s, 5m), count and the type's attributes, e.g. "
                  "latency,stream=downstream,latency=100,jitter=10,after=5s; or a toxic as JSON. Repeatable.")
      ->expected(1)
      ->allow_extra_args(false)  // one value each: a `--` right after it still starts the command
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--config", opts->config,
                  "Serve the links in FILE (a JSON array of proxies, as for /populate; a regular file of at most "
                  "16 MiB)");
  add_api_options(*cmd, opts->api, "Serve the admin API on HOST:PORT (default 127.0.0.1:8474 when no link is given)");
  cmd->add_option("--seed", opts->seed, "Seed for every random decision (default: random, logged)")
      ->check(seed_number());
  add_events_options(*cmd, opts->events);
  cmd->add_option("--duration", opts->duration,
                  "Stop after SECONDS, at most a year (default: run until SIGINT/SIGTERM)")
      ->check(number_in(0, kMaxDurationSeconds, "a number of seconds"));
  cmd->add_option("--grace", opts->grace,
                  "On SIGINT/SIGTERM, give connections SECONDS to deliver what they hold before closing")
      ->capture_default_str()
      ->check(number_in(0, 3600, "a number of seconds"));
  cmd->add_option("--threads", opts->threads, "Worker threads for connections (0: all on the main thread)")
      ->capture_default_str()
      ->check(whole_number_in(0, 256, "a whole number"));
  cmd->callback([opts, &result] { result.exit_code = run_guarded("proxy", [&] { return run_proxy(*opts); }); });
}

}  // namespace faultline::cli
