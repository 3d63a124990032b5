// The simulated client over WebSocket, against a tiny MCP server written
// here on Beast: subprotocol "mcp" offered, tools/list followed across pages
// (nextCursor), every tool called once, the history complete.

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket.hpp>

#include "sim/client/simulator.hpp"

using namespace faultline;
using namespace faultline::sim;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

namespace {

json tool(const char* name) {
  return {{"name", name},
          {"inputSchema", {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}, {"required", {"n"}}}}};
}

// One connection: answers initialize, two pages of tools/list, tools/call.
boost::asio::awaitable<void> serve(tcp::socket socket, std::string* offered) {
  websocket::stream<tcp::socket> ws(std::move(socket));
  boost::beast::flat_buffer buffer;
  websocket::request_type upgrade;
  boost::beast::http::request_parser<boost::beast::http::empty_body> parser;
  co_await boost::beast::http::async_read(ws.next_layer(), buffer, parser, boost::asio::use_awaitable);
  upgrade = parser.release();
  *offered = std::string(upgrade[boost::beast::http::field::sec_websocket_protocol]);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(boost::beast::http::field::sec_websocket_protocol, "mcp"); }));
  co_await ws.async_accept(upgrade, boost::asio::use_awaitable);
  for (;;) {
    buffer.clear();
    auto [ec, n] = co_await ws.async_read(buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) break;
    const auto message = json::parse(boost::beast::buffers_to_string(buffer.data()));
    if (!message.contains("id")) continue;
    json result;
    const auto method = message["method"].get<std::string>();
    if (method == "initialize") {
      result = {{"protocolVersion", "2025-03-26"}, {"capabilities", json::object()}, {"serverInfo", {{"name", "t"}, {"version", "1"}}}};
    } else if (method == "tools/list") {
      const bool second = message["params"].contains("cursor");
      result = {{"tools", json::array({tool(second ? "b" : "a")})}};
      if (!second) result["nextCursor"] = "page2";
    } else {
      result = {{"content", json::array({{{"type", "text"}, {"text", message["params"]["arguments"].dump()}}})}};
    }
    const std::string reply = json{{"jsonrpc", "2.0"}, {"id", message["id"]}, {"result", result}}.dump();
    ws.text(true);
    co_await ws.async_write(boost::asio::buffer(reply), boost::asio::use_awaitable);
  }
}

}  // namespace

TEST_CASE("one pass over WebSocket: subprotocol mcp, paginated tools/list, every tool called") {
  boost::asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::string offered;
  acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
    if (!ec) boost::asio::co_spawn(io, serve(std::move(s), &offered), boost::asio::detached);
  });
  EventLog events;
  std::vector<Event> seen;
  events.add_sink([&](const Event& e) { seen.push_back(e); });
  SimulationOptions options;
  options.target = parse_target("ws://127.0.0.1:" + std::to_string(port) + "/", false);
  options.policy = load_profile("resilient");
  options.events = &events;
  options.seed = 3;
  auto simulation = std::make_shared<Simulation>(io.get_executor(), options);
  std::optional<SimulationSummary> summary;
  boost::asio::co_spawn(io, simulation->run(), [&](std::exception_ptr, SimulationSummary s) {
    summary = s;
    io.stop();
  });
  io.run_for(std::chrono::seconds(10));  // the hang guard
  REQUIRE(summary);
  CHECK(offered == "mcp");
  CHECK(summary->exit_code() == 0);
  CHECK(summary->ok == 5);  // initialize, two pages, two calls
  std::vector<std::string> kinds, tools;
  for (const auto& e : seen) {
    CHECK(e.source == "client:1");
    kinds.push_back(e.kind);
    if (e.kind == "rpc.invoke" && e.fields.contains("tool")) tools.push_back(e.fields["tool"]);
    if (e.kind == "session.initialized") CHECK(e.fields["protocol_version"] == "2025-03-26");
    if (e.kind == "tools.listed") CHECK(e.fields["names"] == json::array({"a", "b"}));
  }
  CHECK(tools == std::vector<std::string>{"a", "b"});
  CHECK(std::count(kinds.begin(), kinds.end(), "rpc.invoke") == 5);
  CHECK(std::count(kinds.begin(), kinds.end(), "rpc.ok") == 5);
  CHECK(kinds.front() == "client.connected");
  CHECK(kinds.back() == "client.closed");
}
