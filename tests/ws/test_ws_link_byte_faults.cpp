// Byte faults on the websocket link, on real loopback sockets between a Beast
// client and a Beast server: each fault of the tcp proxy acts on the raw bytes
// of its direction, the upgrade and the frames alike.
#include <doctest/doctest.h>

#include "tests/ws/ws_peers.hpp"

using namespace faultline;
using namespace faultline::test;
using nlohmann::json;

namespace {

// Adds a fault to the link and waits until the open session has taken it.
void add_live(ProxyHarness& h, const std::string& link, const json& fault) {
  h.add_fault(link, fault);
  REQUIRE(h.wait_for_event("fault.decision", [&](const Event& e) { return e.fields["fault"] == fault["name"]; }));
}

}  // namespace

TEST_CASE("byte faults work under the WebSocket") {
  ProxyHarness h;
  WsServer server;
  SUBCASE("latency on the downstream bytes") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({{{"name", "lat"}, {"type", "latency"}, {"stream", "downstream"}, {"attributes", {{"latency", 150}}}}}));
    WsClient client(port);  // the 101 answer is delayed too
    const auto t0 = std::chrono::steady_clock::now();
    client.send(request(1, "tools/list"));
    REQUIRE(client.next());
    CHECK(ms_since(t0) >= 140);
  }
  SUBCASE("limit_data cuts the connection") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({{{"name", "cut"}, {"type", "limit_data"}, {"stream", "downstream"}, {"attributes", {{"bytes", 400}}}}}));
    WsClient client(port);
    REQUIRE(client.open());
    client.send(request(1, "tools/call", {{"big", std::string(1000, 'b')}}));
    CHECK_FALSE(client.next(500ms));
    CHECK(client.wait_closed());
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "limit_data"; }));
  }
}

// Each byte fault of the tcp proxy on a websocket link, as the client sees it:
// the fault acts on the raw bytes of its direction (the upgrade and frames alike).
TEST_CASE("each byte fault acts on a websocket link as on a tcp link") {
  ProxyHarness h;
  WsServer server;

  SUBCASE("latency with jitter: every round trip within latency +/- jitter") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({byte_fault("lat", "latency", "downstream", {{"latency", 60}, {"jitter", 30}})}));
    WsClient client(port);
    REQUIRE(client.open());
    const auto [lo, hi] = round_trip_range(12, [&](int i) {
      client.send(request(i, "tools/list"));
      REQUIRE(client.next());
    });
    CHECK(lo >= 29.5);
    CHECK(hi < 150.0);
    CHECK(hi - lo > 5.0);  // jitter does vary the delay
    CHECK(injected(h, "latency"));
  }
  SUBCASE("bandwidth: a 200 KB reply at 400 KB/s takes about half a second") {
    const auto port = ws_link(h, "ws", server.port(), json::array({byte_fault("bw", "bandwidth", "downstream", {{"rate", 400}})}));
    WsClient client(port);
    REQUIRE(client.open());
    const std::string text(200'000, 'z');
    const auto t0 = std::chrono::steady_clock::now();
    client.send(request(1, "tools/call", {{"text", text}}));
    const auto reply = client.next(5000ms);
    const double ms = ms_since(t0);
    REQUIRE(reply);
    CHECK(json::parse(*reply)["result"]["params"]["text"] == text);
    CHECK(ms >= 450.0);
    CHECK(ms < 2500.0);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "bandwidth" && e.fields["rate_kbps"] == 400; }));
  }
  SUBCASE("slicer: the reply's bytes arrive in many small reads and decode intact") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({byte_fault("slice", "slicer", "downstream",
                                                      {{"average_size", 10}, {"size_variation", 5}, {"delay", 3000}})}));
    RawWsClient raw(port);
    REQUIRE(raw.upgrade().starts_with("HTTP/1.1 101"));
    raw.send_frame(mcp::WsOpcode::text, request(1, "tools/call", {{"text", std::string(200, 's')}}));
    mcp::WsDecoder decoder(mcp::WsDecoderOptions{false});
    std::vector<mcp::WsEvent> events;
    int reads = 0;
    while (events.empty()) {
      boost::system::error_code ec;
      const auto got = raw.socket().read_some(ec);
      REQUIRE_MESSAGE(!ec, "read failed: " << ec.message());
      ++reads;
      decoder.feed(got, events);
    }
    REQUIRE(events[0].kind == mcp::WsEvent::message);
    REQUIRE(server.wait([&] { return server.sent().size() == 1; }));
    CHECK(events[0].payload == server.sent()[0]);
    CHECK(reads >= 8);  // a frame of ~270 bytes in pieces of 5..15 bytes, 3 ms apart
    CHECK(injected(h, "slicer"));
  }
  SUBCASE("slow_close: the server's close frame comes at once, its FIN only after the delay") {
    const auto port = ws_link(h, "ws", server.port(), json::array({byte_fault("sc", "slow_close", "downstream", {{"delay", 300}})}));
    RawWsClient raw(port);
    REQUIRE(raw.upgrade().starts_with("HTTP/1.1 101"));
    const auto t0 = std::chrono::steady_clock::now();
    raw.send_frame(mcp::WsOpcode::close, mcp::ws_close_payload(1000, "bye"));
    REQUIRE(raw.next(mcp::WsEvent::close));  // the server answers the close, then ends its stream
    CHECK(ms_since(t0) < 250.0);
    CHECK_FALSE(raw.ended());
    CHECK(raw.wait_end(3000ms));
    CHECK(ms_since(t0) >= 295.0);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "slow_close" && e.fields["delay_ms"] == 300; }));
  }
  SUBCASE("timeout: on an open connection nothing crosses, then it closes after timeout ms") {
    const auto port = ws_link(h, "ws", server.port());
    WsClient client(port);
    REQUIRE(client.open());
    const auto t0 = std::chrono::steady_clock::now();
    add_live(h, "ws", byte_fault("to", "timeout", "upstream", {{"timeout", 300}}));
    client.send(request(1, "tools/list"));
    CHECK_FALSE(client.next(150ms));
    REQUIRE(client.wait_closed(3000ms));
    CHECK(ms_since(t0) >= 290.0);
    CHECK(ms_since(t0) < 1500.0);
    CHECK(server.received().empty());
    CHECK(injected(h, "timeout", "hold"));
    CHECK(injected(h, "timeout", "close"));
  }
  SUBCASE("reset_peer: the client sees a real RST") {
    const auto port = ws_link(h, "ws", server.port());
    WsClient client(port);
    REQUIRE(client.open());
    add_live(h, "ws", byte_fault("rst", "reset_peer", "upstream", {{"timeout", 50}}));
    const auto t0 = std::chrono::steady_clock::now();
    client.send(request(1, "tools/list"));
    REQUIRE(client.wait_closed(3000ms));
    CHECK(client.read_error() == asio::error::connection_reset);
    CHECK(ms_since(t0) >= 45.0);
    CHECK(server.received().empty());
    CHECK(injected(h, "reset_peer", "rst"));
    CHECK(h.wait_for_event("conn.close", [](const Event& e) { return e.fields["closed_by"] == "proxy" && e.fields["how"] == "fault"; }));
  }
  SUBCASE("limit_data: the client gets exactly `bytes` bytes, then the close") {
    const auto port = ws_link(h, "ws", server.port(), json::array({byte_fault("cut", "limit_data", "downstream", {{"bytes", 300}})}));
    RawWsClient raw(port);
    const auto head = raw.upgrade();
    REQUIRE(head.starts_with("HTTP/1.1 101"));
    REQUIRE(head.size() < 300);
    raw.send_frame(mcp::WsOpcode::text, request(1, "tools/call", {{"big", std::string(1000, 'b')}}));
    boost::system::error_code ec;
    const auto rest = raw.socket().read_exactly(5000, ec);
    CHECK(ec == asio::error::eof);
    CHECK(head.size() + rest.size() == 300);
    REQUIRE(server.wait([&] { return server.sent().size() == 1; }));
    std::string frame;
    mcp::append_ws_frame(frame, mcp::WsOpcode::text, true, server.sent()[0]);
    CHECK(rest == frame.substr(0, 300 - head.size()));  // the first bytes of the reply's frame, unchanged
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "limit_data" && e.fields["passed_bytes"] == 300; }));
  }
  SUBCASE("down: the open connection is closed, new ones are refused; removing it brings the link back") {
    const auto port = ws_link(h, "ws", server.port());
    WsClient open(port);
    REQUIRE(open.open());
    h.add_fault("ws", {{"type", "down"}, {"name", "outage"}});
    CHECK(open.wait_closed(3000ms));
    asio::io_context io;
    tcp::socket refused(io);
    boost::system::error_code ec;
    refused.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    CHECK(ec == asio::error::connection_refused);
    CHECK(injected(h, "down", "close"));
    h.remove_fault("ws", "outage");
    WsClient again(port);
    REQUIRE(again.open());
    again.send(request(1, "tools/list"));
    REQUIRE(again.next());
  }
  SUBCASE("half_open: replies and the server's close vanish; the client's socket stays open") {
    const auto port = ws_link(h, "ws", server.port());
    RawWsClient raw(port);
    REQUIRE(raw.upgrade().starts_with("HTTP/1.1 101"));
    add_live(h, "ws", byte_fault("blackhole", "half_open", "downstream"));
    raw.send_frame(mcp::WsOpcode::text, request(1, "tools/list"));
    REQUIRE(server.wait([&] { return server.sent().size() == 1; }));
    CHECK_FALSE(raw.next(mcp::WsEvent::message, 300ms));
    CHECK_FALSE(raw.ended());
    raw.send_frame(mcp::WsOpcode::text, request(2, "tools/list"));  // still open toward the server
    REQUIRE(server.wait([&] { return server.received().size() == 2; }));
    // The server answers a close frame and ends its stream: both vanish too.
    raw.send_frame(mcp::WsOpcode::close, mcp::ws_close_payload(1000, "bye"));
    REQUIRE(injected(h, "half_open", "hold_close"));
    CHECK_FALSE(raw.next(mcp::WsEvent::close, 300ms));
    CHECK_FALSE(raw.ended());
    CHECK(h.history("conn.close").empty());
    CHECK(injected(h, "half_open", "swallow"));
    // Removing the fault lets the held close through (the swallowed bytes stay gone).
    h.remove_fault("ws", "blackhole");
    CHECK(raw.wait_end(3000ms));
  }
  SUBCASE("slow_open: the upgrade is answered `delay` ms late, later messages are not") {
    const auto port = ws_link(h, "ws", server.port(), json::array({byte_fault("cold", "slow_open", "upstream", {{"delay", 250}})}));
    const auto t0 = std::chrono::steady_clock::now();
    WsClient client(port);
    REQUIRE(client.open());
    CHECK(ms_since(t0) >= 240.0);
    CHECK(ms_since(t0) < 1500.0);
    // The server counts the connection when its accept coroutine resumes, which
    // may come after its 101 has reached the client through the link.
    CHECK(server.wait([&] { return server.accepted() == 1; }));
    const auto t1 = std::chrono::steady_clock::now();
    client.send(request(1, "tools/list"));
    REQUIRE(client.next());
    CHECK(ms_since(t1) < 200.0);  // only the opening is slow
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "slow_open" && e.fields["delay_ms"] == 250; }));
  }
}
