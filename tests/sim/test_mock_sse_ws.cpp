// The mock server's legacy HTTP+SSE and WebSocket transports over real
// sockets on loopback: a session each, answers on the right channel, and a
// restart that ends them.

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <doctest/doctest.h>

#include "tests/sim/mock_net_client.hpp"

using namespace mocktest;
namespace websocket = boost::beast::websocket;

TEST_CASE("sse: GET /sse names the endpoint; POSTs there get 202 and the answers come on the stream") {
  InProcessMock mock("sse");
  Client stream(mock.port);
  stream.send(http::verb::get, "/sse", "", {{"Accept", "text/event-stream"}});
  const auto head = stream.read_until("\n\n");
  REQUIRE(head.find("event: endpoint\ndata: /messages?sessionId=") != std::string::npos);
  const auto at = head.find("sessionId=") + 10;
  const auto sid = head.substr(at, 32);

  Client c(mock.port);
  const auto posted = c.request(http::verb::post, "/messages?sessionId=" + sid, initialize_body(),
                                {{"Content-Type", "application/json"}});
  CHECK(posted.status == 202);
  CHECK(stream.read_until("faultline-mock").find("event: message\ndata: {") != std::string::npos);
  CHECK(c.request(http::verb::post, "/messages?sessionId=" + sid, call_body(2, "echo", {{"message", "via sse"}}),
                  {{"Content-Type", "application/json"}}).status == 202);
  CHECK(stream.read_until("Echo: via sse").find("Echo: via sse") != std::string::npos);

  CHECK(c.request(http::verb::post, "/messages?sessionId=nope", rpc(3, "ping"), {{"Content-Type", "application/json"}})
            .status == 404);
  CHECK(c.request(http::verb::post, "/messages", rpc(3, "ping"), {{"Content-Type", "application/json"}}).status == 400);

  Client control(mock.control_port);
  CHECK(control.request(http::verb::post, "/restart").parsed()["sessions"] == 1);
  CHECK(stream.read_until("0\r\n\r\n").ends_with("0\r\n\r\n"));
  CHECK(c.request(http::verb::post, "/messages?sessionId=" + sid, rpc(4, "ping"), {{"Content-Type", "application/json"}})
            .status == 404);
}

TEST_CASE("sse: the session ends when the client closes its stream") {
  InProcessMock mock("sse");
  {
    Client stream(mock.port);
    stream.send(http::verb::get, "/sse", "", {{"Accept", "text/event-stream"}});
    CHECK(stream.read_until("\n\n").find("endpoint") != std::string::npos);
  }
  for (int i = 0; i < 200 && mock.of("server.session.closed").empty(); ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(mock.of("server.session.closed").size() == 1);
  CHECK(mock.of("server.session.closed")[0].fields["reason"] == "disconnected");
}

TEST_CASE("ws: subprotocol mcp, one message per text frame; a restart closes with 1012") {
  InProcessMock mock("ws");
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), mock.port));
  websocket::response_type res;
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(http::field::sec_websocket_protocol, "mcp"); }));
  ws.handshake(res, "127.0.0.1", "/mcp");
  CHECK(res[http::field::sec_websocket_protocol] == "mcp");

  const auto exchange = [&](const std::string& text) {
    ws.write(asio::buffer(text));
    boost::beast::flat_buffer buffer;
    ws.read(buffer);
    return json::parse(boost::beast::buffers_to_string(buffer.data()));
  };
  CHECK(exchange(initialize_body())["result"]["serverInfo"]["name"] == "faultline-mock");
  ws.write(asio::buffer(std::string(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")));
  CHECK(exchange(call_body(2, "add", {{"a", 1}, {"b", 2}}))["result"]["content"][0]["text"] == "3.0");
  CHECK(mock.of("server.session.created").size() == 1);

  Client control(mock.control_port);
  CHECK(control.request(http::verb::post, "/restart").parsed()["sessions"] == 1);
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  ws.read(buffer, ec);
  CHECK(ec == websocket::error::closed);
  CHECK(ws.reason().code == websocket::close_code::service_restart);
}

TEST_CASE("ws: a plain HTTP request is refused with a clear 400") {
  InProcessMock mock("ws");
  Client c(mock.port);
  const auto r = c.request(http::verb::get, "/mcp");
  CHECK(r.status == 400);
  CHECK(r.body.find("WebSocket") != std::string::npos);
}

TEST_CASE("ws: an expired session's connection is closed with 1008") {
  faultline::sim::MockBehaviour b;
  b.session_ttl = 150ms;
  InProcessMock mock("ws", b);
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), mock.port));
  ws.handshake("127.0.0.1", "/");
  ws.write(asio::buffer(initialize_body()));
  boost::beast::flat_buffer buffer;
  ws.read(buffer);
  CHECK(json::parse(boost::beast::buffers_to_string(buffer.data()))["id"] == 1);
  const auto t0 = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  ws.read(buffer, ec);  // nothing more comes but the close
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(ec == websocket::error::closed);
  CHECK(ws.reason().code == websocket::close_code::policy_error);
  CHECK(waited < 1s);
  REQUIRE(mock.of("server.session.expired").size() == 1);
  CHECK(mock.of("server.session.closed")[0].fields["reason"] == "expired");
}
