#include "proxy/admin_api.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "proxy/link_registry.hpp"
#include "proxy/metrics.hpp"

namespace faultline {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyLimit = 1 << 20;

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

nlohmann::json parse_body(const AdminApi::Request& req) {
  if (req.body().empty()) return nlohmann::json::object();
  auto body = nlohmann::json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) throw ApiError(400, "bad request body: not valid JSON");
  return body;
}

}  // namespace

AdminApi::AdminApi(asio::any_io_executor ex, LinkRegistry& links, std::string token)
    : ex_(std::move(ex)), links_(links), token_(std::move(token)) {}

void AdminApi::listen(const std::string& address) {
  std::string why;
  auto hp = parse_host_port(address, &why);
  if (!hp) throw ConfigError("--api", why);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(hp->host == "localhost" ? "127.0.0.1" : hp->host, ec);
  if (ec) throw ConfigError("--api", address + ": not an IP address");
  auto acceptor = std::make_shared<tcp::acceptor>(ex_);
  const tcp::endpoint ep(ip, hp->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw StartupError("admin API: cannot listen on " + address + ": " + ec.message());
  const auto bound = acceptor->local_endpoint();
  address_ = HostPort{bound.address().to_string(), bound.port()}.to_string();
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
  while (acceptor->is_open()) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (!acceptor->is_open()) co_return;
    if (ec) {
      spdlog::warn("admin API: accept: {}", ec.message());
      continue;
    }
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
    parser.body_limit(kBodyLimit);
    stream.expires_after(std::chrono::seconds(60));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) break;
    if (ec) {
      // A request we can't read: answer 400 when it got far enough to deserve one.
      if (ec != beast::error::timeout && ec != asio::error::operation_aborted) {
        Request bad{http::verb::get, "/", 11};
        bad.keep_alive(false);
        auto res = error_reply(bad, 400, "bad request: " + ec.message());
        co_await http::async_write(stream, res, use_tuple);
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

AdminApi::Response AdminApi::handle(const Request& req) {
  if (!token_.empty()) {
    const auto auth = req[http::field::authorization];
    if (auth != "Bearer " + token_) return error_reply(req, 401, "missing or wrong API token");
  }
  const auto parts = path_segments(req.target());
  const auto method = req.method();
  auto not_allowed = [&] { return error_reply(req, 405, "method not allowed"); };
  try {
    if (parts.size() == 1 && parts[0] == "version") {
      if (method != http::verb::get) return not_allowed();
      return json_reply(req, 200, {{"version", FAULTLINE_VERSION}, {"server", "faultline"}});
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
      if (method != http::verb::get) return not_allowed();
      return reply(req, http::status::ok, render_metrics(links_), "text/plain; version=0.0.4");
    }
    if (parts.size() == 1 && parts[0] == "reset") {
      if (method != http::verb::post) return not_allowed();
      links_.reset();
      return reply(req, http::status::no_content, "");
    }
    if (parts.size() == 1 && parts[0] == "populate") {
      if (method != http::verb::post) return not_allowed();
      nlohmann::json proxies = nlohmann::json::array();
      for (const auto& link : links_.populate(parse_body(req))) proxies.push_back(LinkRegistry::link_json(*link));
      return json_reply(req, 201, {{"proxies", proxies}});
    }
    if (!parts.empty() && parts[0] == "proxies") {
      if (parts.size() == 1) {
        if (method == http::verb::get) {
          nlohmann::json all = nlohmann::json::object();
          for (const auto& [name, link] : links_.links()) all[name] = LinkRegistry::link_json(*link);
          return json_reply(req, 200, all);
        }
        if (method == http::verb::post) return json_reply(req, 201, LinkRegistry::link_json(*links_.create(parse_body(req))));
        return not_allowed();
      }
      const std::string& name = parts[1];
      if (parts.size() == 2) {
        if (method == http::verb::get) return json_reply(req, 200, LinkRegistry::link_json(*links_.find(name)));
        if (method == http::verb::post || method == http::verb::patch)
          return json_reply(req, 200, LinkRegistry::link_json(*links_.update(name, parse_body(req))));
        if (method == http::verb::delete_) {
          links_.remove(name);
          return reply(req, http::status::no_content, "");
        }
        return not_allowed();
      }
      if (parts[2] == "toxics" && parts.size() == 3) {
        if (method == http::verb::get) {
          nlohmann::json list = nlohmann::json::array();
          for (const auto& f : links_.find(name)->faults()) list.push_back(f->to_json());
          return json_reply(req, 200, list);
        }
        if (method == http::verb::post) return json_reply(req, 200, links_.add_fault(name, parse_body(req))->to_json());
        return not_allowed();
      }
      if (parts[2] == "toxics" && parts.size() == 4) {
        const std::string& fault = parts[3];
        if (method == http::verb::get) return json_reply(req, 200, links_.find_fault(name, fault)->to_json());
        if (method == http::verb::post || method == http::verb::patch)
          return json_reply(req, 200, links_.update_fault(name, fault, parse_body(req))->to_json());
        if (method == http::verb::delete_) {
          links_.remove_fault(name, fault);
          return reply(req, http::status::no_content, "");
        }
        return not_allowed();
      }
    }
    return error_reply(req, 404, "not found");
  } catch (const ApiError& e) {
    return error_reply(req, e.status(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("admin API: {} {}: {}", std::string(req.method_string()), std::string(req.target()), e.what());
    return error_reply(req, 500, e.what());
  }
}

}  // namespace faultline
