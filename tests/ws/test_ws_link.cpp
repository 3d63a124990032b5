// The websocket link on real loopback sockets, between a Beast client and a
// Beast server: messages, pings, pongs and close frames cross as themselves;
// the session is recorded; frame faults and WebSocket faults act; bad input
// gets the close code a correct endpoint sends while other connections keep
// working; drain closes with 1001. Byte faults: test_ws_link_byte_faults.cpp.
#include <doctest/doctest.h>

#include "tests/ws/ws_peers.hpp"

using namespace faultline;
using namespace faultline::test;
using nlohmann::json;

namespace {

json frame_fault(const std::string& type, const std::string& stream, json match = json::object(),
                 json attributes = json::object()) {
  json f = {{"name", type + "_" + stream}, {"type", type}, {"stream", stream}, {"attributes", attributes}};
  if (!match.empty()) f["match"] = match;
  return f;
}

// A JSON-RPC notification of exactly `size` bytes.
std::string notification_of_size(std::size_t size) {
  return padded_json(R"({"jsonrpc":"2.0","method":"notifications/pad","params":{"pad":")", size);
}

}  // namespace

TEST_CASE("messages cross byte for byte both ways and the session is recorded") {
  ProxyHarness h;
  WsServer server;
  const auto port = ws_link(h, "ws", server.port());
  WsClient client(port);
  REQUIRE(client.open());

  const std::string init = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
                           R"("clientInfo":{"name":"doctest","version":"0.1"},"capabilities":{"roots":{}}}})";
  client.send(init);
  auto reply = client.next();
  REQUIRE(reply);
  REQUIRE(server.wait([&] { return server.sent().size() == 1; }));
  CHECK(*reply == server.sent()[0]);
  CHECK(server.received()[0] == init);

  // Odd spacing, a notification, a batch, a large message: all unchanged.
  const std::string spaced = "{ \"jsonrpc\" : \"2.0\", \"method\" : \"notifications/initialized\" }";
  const std::string batch = R"([{"jsonrpc":"2.0","id":2,"method":"tools/list"}, {"jsonrpc":"2.0","id":3,"method":"ping"}])";
  const std::string large = request(4, "tools/call", {{"name", "echo"}, {"arguments", {{"text", std::string(200000, 'z')}}}});
  client.send(spaced);
  client.send(batch);
  client.send(large);
  REQUIRE(server.wait([&] { return server.received().size() == 4; }));
  CHECK(server.received()[1] == spaced);
  CHECK(server.received()[2] == batch);
  CHECK(server.received()[3] == large);
  auto big = client.next();
  REQUIRE(big);
  CHECK(big->size() > 200000);

  CHECK(h.wait_for_event("ws.open", [](const Event& e) { return e.fields["subprotocol"] == "mcp" && e.fields["target"] == "/mcp"; }));
  CHECK(h.wait_for_event("session.initialize", [](const Event& e) {
    return e.fields["clientInfo"]["name"] == "doctest" && e.fields["protocolVersion"] == "2025-06-18" && e.fields["conn"] == 1;
  }));
  CHECK(h.wait_for_event("session.initialized", [](const Event& e) { return e.fields["serverInfo"]["name"] == "ws-test-server"; }));
  CHECK(h.wait_for_event("rpc.response", [](const Event& e) {
    return e.fields["method"] == "initialize" && e.fields["latency_ms"].get<double>() >= 0 && e.fields["ok"] == true;
  }));
  CHECK(h.wait_for_event("rpc.notification", [](const Event& e) { return e.fields["method"] == "notifications/initialized"; }));
  CHECK(h.wait_for_event("rpc.request", [](const Event& e) { return e.fields["method"] == "ping" && e.fields["id"] == 3; }));
}

TEST_CASE("pings, pongs and close frames cross as themselves") {
  ProxyHarness h;
  WsServer server;
  const auto port = ws_link(h, "ws", server.port());
  WsClient client(port);
  REQUIRE(client.open());
  client.ping("are-you-there");
  REQUIRE(server.wait([&] { return server.pings() == 1; }));
  CHECK(server.last_ping() == "are-you-there");
  client.pump(200ms);
  REQUIRE(client.pongs().size() == 1);  // the server's pong, not one faultline made up
  CHECK(client.pongs()[0] == "are-you-there");

  client.close(4001, "done here");
  REQUIRE(server.wait([&] { return server.close_code().has_value(); }));
  CHECK(*server.close_code() == 4001);
  CHECK(h.wait_for_event("ws.close", [](const Event& e) { return e.fields["from"] == "client" && e.fields["code"] == 4001; }));
  CHECK(h.wait_for_event("conn.close", [](const Event& e) {
    return e.fields["closed_by"] == "client" && e.fields["how"] == "close_frame" && e.fields["ws_code"] == 4001;
  }));
}

TEST_CASE("a client that vanishes without a close frame: the session ends as a FIN from the client") {
  ProxyHarness h;
  WsServer server([](const std::string&) -> std::vector<std::string> { return {}; });
  const auto port = ws_link(h, "ws", server.port());
  {
    WsClient client(port);
    REQUIRE(client.open());
  }  // the client vanishes without a close frame: the server sees the stream end
  CHECK(h.wait_for_event("conn.close", [](const Event& e) { return e.fields["closed_by"] == "client" && e.fields["how"] == "fin"; }));
}

TEST_CASE("frame faults act per message on a websocket link") {
  ProxyHarness h;
  WsServer server;

  SUBCASE("drop: a matched reply never arrives, the others do") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("drop", "downstream", {{"method", "tools/call"}})}));
    WsClient client(port);
    client.send(request(1, "tools/call"));
    CHECK_FALSE(client.next(300ms));
    client.send(request(2, "tools/list"));
    auto r = client.next();
    REQUIRE(r);
    CHECK(json::parse(*r)["id"] == 2);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "drop" && e.fields["id"] == 1; }));
    CHECK(h.call([&] { return h.registry().find("ws")->stats().faults().at("drop_downstream").injections; }) == 1);
  }
  SUBCASE("error: faultline answers in the server's place; the server never sees the request") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({frame_fault("error", "upstream", {{"method", "tools/call"}}, {{"code", -32001}, {"message", "nope"}})}));
    WsClient client(port);
    client.send(request(7, "tools/call"));
    auto r = client.next();
    REQUIRE(r);
    auto msg = json::parse(*r);
    CHECK(msg["id"] == 7);
    CHECK(msg["error"]["code"] == -32001);
    client.send(request(8, "tools/list"));
    REQUIRE(client.next());
    CHECK(server.received().size() == 1);
    CHECK(h.wait_for_event("rpc.response", [](const Event& e) { return e.fields["id"] == 7 && e.fields.value("injected", false); }));
  }
  SUBCASE("delay: the matched reply comes late") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("delay", "downstream", {}, {{"delay", 250}})}));
    WsClient client(port);
    const auto t0 = std::chrono::steady_clock::now();
    client.send(request(1, "tools/list"));
    REQUIRE(client.next());
    const double ms = ms_since(t0);
    CHECK(ms >= 240);
    CHECK(ms < 2000);
  }
  SUBCASE("duplicate: the reply arrives twice") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("duplicate", "downstream", {{"kind", "response"}})}));
    WsClient client(port);
    client.send(request(1, "tools/list"));
    auto a = client.next();
    auto b = client.next();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
  }
  SUBCASE("malformed: the client gets broken JSON") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("malformed", "downstream", {}, {{"mode", "invalid_json"}})}));
    WsClient client(port);
    client.send(request(1, "tools/list"));
    auto r = client.next();
    REQUIRE(r);
    CHECK(r->back() == ']');
    CHECK(json::parse(*r, nullptr, false).is_discarded());
  }
  SUBCASE("late_response: a later reply overtakes the held one") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({frame_fault("late_response", "downstream", {{"method", "tools/call"}}, {{"delay", 300}})}));
    WsClient client(port);
    client.send(request(1, "tools/call"));
    client.send(request(2, "tools/list"));
    auto first = client.next();
    auto second = client.next();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(json::parse(*first)["id"] == 2);
    CHECK(json::parse(*second)["id"] == 1);
  }
  SUBCASE("reorder: a held message is released after the next one") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({frame_fault("reorder", "upstream", {{"method", "tools/call"}}, {{"after", 1}})}));
    WsClient client(port);
    client.send(request(1, "tools/call"));
    client.send(request(2, "tools/list"));
    REQUIRE(server.wait([&] { return server.received().size() == 2; }));
    CHECK(json::parse(server.received()[0])["id"] == 2);
    CHECK(json::parse(server.received()[1])["id"] == 1);
  }
}

TEST_CASE("websocket faults: ws_close, fragment, swallow_pongs") {
  ProxyHarness h;
  WsServer server;

  SUBCASE("ws_close on a matched message: the client gets the code, the server 1001") {
    const auto port = ws_link(h, "ws", server.port(),
                              json::array({frame_fault("ws_close", "downstream", {{"method", "tools/call"}},
                                                       {{"code", 4003}, {"reason", "fault says bye"}})}));
    WsClient client(port);
    client.send(request(1, "tools/list"));
    REQUIRE(client.next());
    client.send(request(2, "tools/call"));
    CHECK_FALSE(client.next());
    REQUIRE(client.wait_closed());
    CHECK(client.close_code() == 4003);
    CHECK(client.close_reason() == "fault says bye");
    REQUIRE(server.wait([&] { return server.close_code().has_value(); }));
    CHECK(*server.close_code() == 1001);
    CHECK(h.wait_for_event("conn.close", [](const Event& e) { return e.fields["how"] == "fault" && e.fields["ws_code"] == 4003; }));
  }
  SUBCASE("ws_close after_ms") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("ws_close", "downstream", {}, {{"code", 1012}, {"after_ms", 100}})}));
    const auto t0 = std::chrono::steady_clock::now();  // before the connect: after_ms counts from the connection's start
    WsClient client(port);
    REQUIRE(client.wait_closed());
    CHECK(ms_since(t0) >= 95);
    CHECK(client.close_code() == 1012);
  }
  SUBCASE("fragment: a reply in three frames, joined by a correct client") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("fragment", "downstream", {}, {{"count", 3}})}));
    RawWsClient raw(port);
    CHECK(raw.upgrade().starts_with("HTTP/1.1 101"));
    raw.send_frame(mcp::WsOpcode::text, request(1, "tools/list"));
    auto m = raw.next(mcp::WsEvent::message);
    REQUIRE(m);
    CHECK(m->frames == 3);
    REQUIRE(server.wait([&] { return server.sent().size() == 1; }));
    CHECK(m->payload == server.sent()[0]);
    WsClient client(port);
    client.send(request(2, "tools/list"));
    auto r = client.next();
    REQUIRE(r);
    CHECK(json::parse(*r)["id"] == 2);
  }
  SUBCASE("fragment by size, upstream: the server joins them") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("fragment", "upstream", {}, {{"size", 10}})}));
    WsClient client(port);
    const auto text = request(1, "tools/call", {{"x", std::string(100, 'q')}});
    client.send(text);
    REQUIRE(client.next());
    CHECK(server.received()[0] == text);
    CHECK(h.wait_for_event("fault.inject", [&](const Event& e) { return e.fields["type"] == "fragment" && e.fields["frames"] == (text.size() + 9) / 10; }));
  }
  SUBCASE("swallow_pongs: pings get no pong while messages still flow") {
    const auto port = ws_link(h, "ws", server.port(), json::array({frame_fault("swallow_pongs", "downstream")}));
    WsClient client(port);
    client.ping("p1");
    REQUIRE(server.wait([&] { return server.pings() == 1; }));
    client.send(request(1, "tools/list"));
    REQUIRE(client.next());
    client.pump(200ms);
    CHECK(client.pongs().empty());
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "swallow_pongs"; }));
  }
}

TEST_CASE("bad input: the offender gets the right close code, other connections keep working") {
  ProxyHarness h;
  WsServer server;
  const auto port = ws_link(h, "ws", server.port());
  WsClient bystander(port);
  REQUIRE(bystander.open());

  struct Case {
    const char* name;
    std::function<void(RawWsClient&)> send;
    int code;
  };
  const std::vector<Case> cases = {
      {"an unmasked frame", [](RawWsClient& c) { c.send_frame(mcp::WsOpcode::text, "{}", false); }, 1002},
      {"a reserved opcode", [](RawWsClient& c) { c.send(std::string("\x83\x80\0\0\0\0", 6)); }, 1002},
      {"a message over the size limit", [](RawWsClient& c) { c.send(std::string("\x81\xff\0\0\0\x10\0\0\0\0", 10)); }, 1009},
      {"invalid UTF-8", [](RawWsClient& c) { c.send_frame(mcp::WsOpcode::text, "{\"a\":\"\xff\"}"); }, 1007},
  };
  int n = 0;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    RawWsClient raw(port);
    CHECK(raw.upgrade().starts_with("HTTP/1.1 101"));
    REQUIRE(server.wait([&] { return server.accepted() == n + 2; }));
    c.send(raw);
    auto close = raw.next(mcp::WsEvent::close);
    REQUIRE(close);
    CHECK(close->code == c.code);
    CHECK(raw.wait_end());
    ++n;
  }
  REQUIRE(server.wait([&] { return server.close_code() == 1001; }));
  CHECK(h.history("ws.violation").size() == cases.size());
  CHECK(h.wait_for_event("ws.violation", [](const Event& e) { return e.fields["code"] == 1009 && e.fields["from"] == "client"; }));

  // Not WebSocket at all: an HTTP error, and the link goes on.
  Client garbage(port);
  garbage.send("\x16\x03\x01 this is not HTTP\r\n\r\n");
  boost::system::error_code ec;
  CHECK(garbage.read_some(ec).starts_with("HTTP/1.1 400"));
  Client plain_get(port);
  plain_get.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain_get.read_some(ec).starts_with("HTTP/1.1 400"));

  bystander.send(request(1, "tools/list"));
  auto r = bystander.next();
  REQUIRE(r);
  CHECK(json::parse(*r)["id"] == 1);
}

TEST_CASE("max_message: a larger message from either side gets 1009, a smaller one crosses intact") {
  ProxyHarness h;
  // Answers {"method":"reply","params":{"size":N}} with a notification of N bytes.
  WsServer server([](const std::string& text) -> std::vector<std::string> {
    const auto msg = json::parse(text, nullptr, false);
    if (!msg.is_object() || msg.value("method", "") != "reply") return {};
    return {notification_of_size(msg["params"]["size"].get<std::size_t>())};
  });
  const auto port = h.link("small", server.port(), {}, "websocket", {{"max_message", 4096}});
  WsClient bystander(port);
  REQUIRE(bystander.open());

  // From the client: 4000 bytes cross byte for byte, 5000 bytes close it with 1009.
  WsClient client(port);
  REQUIRE(client.open());
  const auto fits = notification_of_size(4000);
  client.send(fits);
  REQUIRE(server.wait([&] { return server.received().size() == 1; }));
  CHECK(server.received()[0] == fits);
  client.send(notification_of_size(5000));
  REQUIRE(client.wait_closed());
  CHECK(client.close_code() == 1009);
  CHECK(h.wait_for_event("ws.violation", [](const Event& e) {
    return e.fields["code"] == 1009 && e.fields["from"] == "client" &&
           e.fields["problem"].get<std::string>().find("limit of 4096") != std::string::npos;
  }));
  REQUIRE(server.wait([&] { return server.close_code() == 1001; }));  // the server hears its partner went away
  CHECK(server.received().size() == 1);  // the large message never reached it

  // From the server: the same limit.
  WsClient reader(port);
  REQUIRE(reader.open());
  reader.send(request(1, "reply", {{"size", 4000}}));
  auto reply = reader.next();
  REQUIRE(reply);
  CHECK(*reply == notification_of_size(4000));
  reader.send(request(2, "reply", {{"size", 5000}}));
  REQUIRE(reader.wait_closed());
  CHECK(reader.close_code() == 1001);
  CHECK(h.wait_for_event("ws.violation", [](const Event& e) { return e.fields["code"] == 1009 && e.fields["from"] == "server"; }));
  REQUIRE(server.wait([&] { return server.close_code() == 1009; }));
  CHECK(h.history("ws.violation").size() == 2);

  // The connection opened first keeps working.
  bystander.send(request(3, "reply", {{"size", 4096}}));
  auto r = bystander.next();
  REQUIRE(r);
  CHECK(r->size() == 4096);
  CHECK(bystander.open());
}

TEST_CASE("an upstream that is down gets 502; one that refuses the upgrade passes its answer on") {
  ProxyHarness h;
  std::uint16_t dead_port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = a.local_endpoint().port();
  }
  const auto port = ws_link(h, "dead", dead_port);
  RawWsClient raw(port);
  CHECK(raw.upgrade().starts_with("HTTP/1.1 502"));
  CHECK(h.wait_for_event("ws.handshake_error", [](const Event& e) { return e.fields["status"] == 502; }));

  Upstream refuser([](tcp::socket& s) {
    std::array<char, 4096> buf;
    boost::system::error_code ec;
    s.read_some(asio::buffer(buf), ec);
    asio::write(s, asio::buffer(std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")), ec);
  });
  const auto port2 = ws_link(h, "refuser", refuser.port());
  RawWsClient raw2(port2);
  const auto head = raw2.upgrade();
  CHECK(head.starts_with("HTTP/1.1 404"));
  CHECK(h.wait_for_event("ws.refused", [](const Event& e) { return e.fields["status"] == 404; }));
}

TEST_CASE("faults added and removed live; drain delivers then closes with 1001") {
  ProxyHarness h;
  WsServer server;
  const auto port = ws_link(h, "ws", server.port());
  WsClient client(port);
  REQUIRE(client.open());
  h.add_fault("ws", frame_fault("delay", "downstream", {}, {{"delay", 5000}}));
  client.send(request(1, "tools/list"));
  CHECK_FALSE(client.next(200ms));
  h.remove_fault("ws", "delay_downstream");  // the held reply is let go at once
  auto r = client.next(1000ms);
  REQUIRE(r);
  CHECK(json::parse(*r)["id"] == 1);

  h.add_fault("ws", frame_fault("delay", "downstream", {}, {{"delay", 5000}}));
  client.send(request(2, "tools/list"));
  REQUIRE(server.wait([&] { return server.sent().size() == 2; }));
  std::this_thread::sleep_for(50ms);
  h.call([&] {
    h.registry().drain_all(2000ms, "test drain");
    return 0;
  });
  auto held = client.next(1000ms);
  REQUIRE(held);
  CHECK(json::parse(*held)["id"] == 2);
  REQUIRE(client.wait_closed());
  CHECK(client.close_code() == 1001);
  REQUIRE(server.wait([&] { return server.close_code().has_value(); }));
  CHECK(*server.close_code() == 1001);
}

TEST_CASE("websocket-only faults are refused on tcp links, stdio-only ones on websocket links") {
  ProxyHarness h;
  WsServer server;
  const auto port = ws_link(h, "ws", server.port());
  CHECK(port > 0);
  CHECK_THROWS_WITH_AS(h.add_fault("ws", frame_fault("kill", "upstream")), doctest::Contains("stdio only"), std::exception);
  h.call([&] {
    h.registry().create({{"name", "plain"}, {"listen", "127.0.0.1:0"}, {"upstream", "127.0.0.1:1"}});
    return 0;
  });
  CHECK_THROWS_WITH_AS(h.add_fault("plain", frame_fault("ws_close", "downstream")), doctest::Contains("websocket"), std::exception);
  CHECK_THROWS_WITH_AS(h.add_fault("ws", frame_fault("ws_close", "downstream", {}, {{"code", 1006}})),
                       doctest::Contains("may not be sent"), std::exception);
  CHECK_THROWS_WITH_AS(h.add_fault("ws", frame_fault("fragment", "downstream", {}, {{"count", 2}, {"size", 4}})),
                       doctest::Contains("not both"), std::exception);
}
