#include "runtime/admin_api.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "core/json_depth.hpp"
#include "proxy/accept_backoff.hpp"
#include "runtime/link_registry.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"

namespace faultline {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyLimit = 1 << 20;
// The request line and headers together: Toxiproxy's clients send a few hundred bytes.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// After refusing a request it could not read, the session reads and drops what
// the client is still sending, this much for this long at most, before closing:
// closing with unread data would reset the connection and lose the answer.
constexpr std::size_t kDrainBytes = 4 << 20;
constexpr auto kDrainTime = std::chrono::seconds(2);

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string> path_segments(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos < target.size()) {
    auto slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    if (slash > pos) parts.push_back(percent_decode(target.substr(pos, slash - pos)));
    pos = slash + 1;
  }
  return parts;
}

AdminApi::Response reply(const AdminApi::Request& req, http::status status, std::string body,
                         const char* type = "application/json") {
  AdminApi::Response res{status, req.version()};
  res.set(http::field::server, "faultline/" FAULTLINE_VERSION);
  if (!body.empty()) res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

AdminApi::Response json_reply(const AdminApi::Request& req, int status, const nlohmann::json& body) {
  return reply(req, static_cast<http::status>(status), body.dump() + "\n");
}

AdminApi::Response error_reply(const AdminApi::Request& req, int status, const std::string& message) {
  return json_reply(req, status, {{"error", message}, {"status", status}});
}

int status_of(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::invalid: return 400;
    case Error::Kind::not_found: return 404;
    case Error::Kind::conflict: return 409;
    case Error::Kind::failed: return 500;
  }
  return 500;
}

AdminApi::Response error_reply(const AdminApi::Request& req, const Error& e) {
  return error_reply(req, status_of(e.kind), e.text());
}

// A fault, or the error, as the answer.
AdminApi::Response fault_reply(const AdminApi::Request& req, const Result<FaultPtr>& r) {
  return r ? json_reply(req, 200, r.value()->to_json()) : error_reply(req, r.error());
}

// The answer to a request that could not be read, by what went wrong.
int unreadable_status(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  return 400;
}

// Whether an Origin header names a page served from this machine's loopback
// (http or https, a loopback host, any port). "null" and every other origin do not.
bool is_loopback_origin(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"})
    if (origin.starts_with(scheme)) return is_loopback_authority(origin.substr(scheme.size()));
  return false;
}

nlohmann::json parse_body(const AdminApi::Request& req) {
  if (req.body().empty()) return nlohmann::json::object();
  if (json_too_deep_at(req.body()) != std::string::npos)
    throw ErrorException(Error::Kind::invalid,
                         "bad request body: nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  auto body = nlohmann::json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) throw ErrorException(Error::Kind::invalid, "bad request body: not valid JSON");
  return body;
}

}  // namespace

AdminApi::AdminApi(Runtime& runtime, std::string token)
    : runtime_(runtime), ex_(runtime.executor()), token_(std::move(token)) {}

void AdminApi::listen(const std::string& address) {
  std::string why;
  auto hp = parse_host_port(address, &why);
  if (!hp) throw ConfigError("--api", why);
  const auto ip = listen_address(hp->host);
  if (!ip) throw ConfigError("--api", "\"" + address + "\": the host must be an IP address or localhost");
  boost::system::error_code ec;
  auto acceptor = std::make_shared<tcp::acceptor>(ex_);
  const tcp::endpoint ep(*ip, hp->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw StartupError("admin API: cannot listen on " + address + ": " + ec.message());
  const auto bound = acceptor->local_endpoint();
  address_ = HostPort{bound.address().to_string(), bound.port()}.to_string();
  loopback_ = bound.address().is_loopback();
  acceptor_ = acceptor;
  asio::co_spawn(ex_, accept_loop(acceptor), asio::detached);
}

void AdminApi::stop() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

asio::awaitable<void> AdminApi::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  AcceptBackoff backoff("admin API");
  while (acceptor->is_open()) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (!acceptor->is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: wait for some to be freed (logged once per episode).
      co_await backoff.wait(ex_, ec);
      continue;
    }
    backoff.accepted();
    asio::co_spawn(ex_, session(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::warn("admin API: session ended: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> AdminApi::session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    stream.expires_after(std::chrono::seconds(60));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) break;
    if (ec) {
      // A request we can't read: answer when it got far enough to deserve one
      // (431 for too long a head, 413 for too large a body, else 400).
      if (ec != beast::error::timeout && ec != asio::error::operation_aborted) {
        Request bad{http::verb::get, "/", 11};
        bad.keep_alive(false);
        const int status = unreadable_status(ec);
        auto res = error_reply(bad, status, (status == 400 ? "bad request: " : "") + ec.message());
        stream.expires_after(kDrainTime);
        co_await http::async_write(stream, res, use_tuple);
        co_await drain_and_close(stream);
        co_return;
      }
      break;
    }
    const Request& req = parser.get();
    Response res = handle(req);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> AdminApi::drain_and_close(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(kDrainTime);
  std::array<char, 16 * 1024> sink;
  std::size_t dropped = 0;
  while (dropped < kDrainBytes) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (ec) break;
    dropped += n;
  }
  stream.socket().close(ignored);
}

std::optional<AdminApi::Response> AdminApi::refuse_foreign(const Request& req) const {
  // A web page must not drive the API: a browser sends Origin with a
  // cross-site request, and a DNS-rebinding page makes the browser send its own
  // host name in Host while connecting to loopback.
  if (auto origin = req.find(http::field::origin); origin != req.end() && !is_loopback_origin(origin->value()))
    return error_reply(req, 403,
                       "forbidden: requests from web pages are refused (Origin " + std::string(origin->value()) + ")");
  if (!loopback_) return std::nullopt;  // off loopback, the token guards the API
  if (req.count(http::field::host) > 1) return error_reply(req, 403, "forbidden: more than one Host header");
  if (auto host = req.find(http::field::host); host != req.end() && !is_loopback_authority(host->value()))
    return error_reply(req, 403, "forbidden: Host " + std::string(host->value()) +
                                     " is not a loopback name or address (the admin API listens on loopback)");
  return std::nullopt;
}

AdminApi::Response AdminApi::handle(const Request& req) {
  if (auto refused = refuse_foreign(req)) return std::move(*refused);
  if (!token_.empty()) {
    const auto auth = req[http::field::authorization];
    if (auth != "Bearer " + token_) return error_reply(req, 401, "missing or wrong API token");
  }
  try {
    return route(req);
  } catch (const ErrorException& e) {
    return error_reply(req, e.error());
  } catch (const std::exception& e) {
    spdlog::error("admin API: {} {}: {}", std::string(req.method_string()), std::string(req.target()), e.what());
    return error_reply(req, 500, e.what());
  }
}

AdminApi::Response AdminApi::route(const Request& req) {
  auto& links = runtime_.links();
  auto& faults = runtime_.faults();
  const auto parts = path_segments(req.target());
  const auto method = req.method();
  auto not_allowed = [&] { return error_reply(req, 405, "method not allowed"); };
  auto no_content = [&] { return reply(req, http::status::no_content, ""); };
  auto one = [&](const char* name) { return parts.size() == 1 && parts[0] == name; };

  if (one("version")) {
    if (method != http::verb::get) return not_allowed();
    return json_reply(req, 200, {{"version", FAULTLINE_VERSION}, {"server", "faultline"}});
  }
  if (one("metrics")) {
    if (method != http::verb::get) return not_allowed();
    return reply(req, http::status::ok, render_metrics(links), "text/plain; version=0.0.4");
  }
  if (one("reset")) {
    if (method != http::verb::post) return not_allowed();
    links.reset();
    faults.clear();
    return no_content();
  }
  if (one("populate")) {
    if (method != http::verb::post) return not_allowed();
    nlohmann::json proxies = nlohmann::json::array();
    for (const auto& link : links.populate(parse_body(req))) proxies.push_back(LinkRegistry::link_json(*link));
    return json_reply(req, 201, {{"proxies", proxies}});
  }
  if (parts.empty() || parts[0] != "proxies") return error_reply(req, 404, "not found");

  if (parts.size() == 1) {
    if (method == http::verb::get) {
      nlohmann::json all = nlohmann::json::object();
      for (const auto& [name, link] : links.links()) all[name] = link->describe();
      for (const auto& [name, link] : faults.attached()) all[name] = link->describe();
      return json_reply(req, 200, all);
    }
    if (method == http::verb::post) return json_reply(req, 201, LinkRegistry::link_json(*links.create(parse_body(req))));
    return not_allowed();
  }
  const std::string& name = parts[1];
  if (auto it = faults.attached().find(name); it != faults.attached().end() && parts.size() == 2) {
    // A link run by its command (wrap's stdio link): shown, and its faults change; it does not.
    if (method == http::verb::get) return json_reply(req, 200, it->second->describe());
    return error_reply(req, 405, "link " + name + " is a " + it->second->protocol() +
                                     " link run by its command: only its faults change through the API");
  }
  if (parts.size() == 2) {
    if (method == http::verb::get) return json_reply(req, 200, LinkRegistry::link_json(*links.find(name)));
    if (method == http::verb::post || method == http::verb::patch)
      return json_reply(req, 200, LinkRegistry::link_json(*links.update(name, parse_body(req))));
    if (method == http::verb::delete_) {
      links.remove(name);
      return no_content();
    }
    return not_allowed();
  }
  if (parts[2] != "toxics" || parts.size() > 4) return error_reply(req, 404, "not found");
  if (parts.size() == 3) {
    if (method == http::verb::get) {
      auto list = faults.list(name);
      if (!list) return error_reply(req, list.error());
      nlohmann::json out = nlohmann::json::array();
      for (const auto& f : list.value()) out.push_back(f->to_json());
      return json_reply(req, 200, out);
    }
    if (method == http::verb::post) return fault_reply(req, faults.add(name, parse_body(req)));
    return not_allowed();
  }
  const std::string& fault = parts[3];
  if (method == http::verb::get) return fault_reply(req, faults.get(name, fault));
  if (method == http::verb::post || method == http::verb::patch)
    return fault_reply(req, faults.change(name, fault, parse_body(req)));
  if (method == http::verb::delete_) {
    auto removed = faults.remove(name, fault);
    return removed ? no_content() : error_reply(req, removed.error());
  }
  return not_allowed();
}

}  // namespace faultline
