// Faults on the http link, on real loopback sockets between the peers of
// tests/http/http_peers.hpp: frame and HTTP faults on requests and SSE
// streams, a match on session, each byte fault on the bytes the link writes,
// and where HTTP faults are validated.
#include <atomic>

#include "core/errors.hpp"
#include "faults/byte_fault_spec.hpp"
#include "proxy/link.hpp"
#include "tests/http/http_peers.hpp"

using namespace faultline;
using namespace faultline::test;
using json = nlohmann::json;

namespace {

// A POST of `body` as a client writes it.
std::string post(const std::string& body, const std::string& extra = "") {
  return "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n" + extra +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void answer_ok(tcp::socket& s, const std::string& extra_headers = "") {
  const std::string body = R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})";
  boost::system::error_code ec;
  asio::write(s, asio::buffer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra_headers +
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body), ec);
}

// An upstream that answers one request and closes the connection, as a
// server sending Connection: close does.
Upstream::Script answer_and_close() {
  return [](tcp::socket& s) {
    std::string pending;
    if (!read_message(pending, socket_reader(s))) return;
    answer_ok(s, "Connection: close\r\n");
    boost::system::error_code ec;
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  };
}

// One read with the client's timeout: true when nothing came, neither data nor
// a FIN nor an RST, before it ran out (the link holds the connection silent).
bool stays_silent(HttpClient& c) {
  boost::system::error_code ec;
  return c.raw().read_some(ec).empty() && is_timeout(ec);
}

}  // namespace

TEST_CASE("drop with match method removes one notification from an SSE stream and nothing else") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"type", "drop"}, {"match", {{"method", "notifications/tools/list_changed"}}}}}));
  HttpClient c(port);
  c.request("POST", kInit);
  auto stream = c.request("GET", "", kSession);
  const auto data = sse_data(stream.body);
  REQUIRE(data.size() == 2);
  CHECK(data[1].find("notifications/message") != std::string::npos);
  CHECK(stream.body.find("list_changed") == std::string::npos);
  CHECK(stream.body.find("id: ev-3\n") != std::string::npos);  // the others keep their ids
  REQUIRE(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["method"] == "notifications/tools/list_changed"; }));
  CHECK(h.history("fault.inject").size() == 1);
}

TEST_CASE("error answers a POSTed request in the server's place; drop of a notification gets 202") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"type", "error"}, {"match", {{"method", "tools/list"}}},
                                            {"attributes", {{"code", -32042}, {"message", "injected"}}}},
                                           {{"type", "drop"}, {"stream", "upstream"}, {"match", {{"method", "notifications/initialized"}}}}}));
  HttpClient c(port);
  c.request("POST", kInit);
  auto note = c.request("POST", kInitialized, kSession);
  CHECK(note.status() == 202);
  auto list = c.request("POST", kList, kSession);
  CHECK(list.status() == 200);
  const auto reply = json::parse(list.body);
  CHECK(reply["id"] == 1);
  CHECK(reply["error"]["code"] == -32042);
  for (const auto& m : up.received()) CHECK(m.body.find("tools/list") == std::string::npos);  // never forwarded
  CHECK(up.received().size() == 1);  // only initialize reached the server
  REQUIRE(h.wait_for_event("rpc.response", [](const Event& e) { return e.fields.value("injected", false); }));
}

TEST_CASE("forget_session answers 404 to every later request of the session, on any connection") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"type", "forget_session"}, {"match", {{"method", "tools/list"}}}}}));
  HttpClient c(port);
  c.request("POST", kInit);
  CHECK(c.request("POST", kInitialized, kSession).status() == 202);  // not matched: passes
  CHECK(c.request("POST", kList, kSession).status() == 404);
  HttpClient other(port);
  CHECK(other.request("GET", "", kSession).status() == 404);
  CHECK(other.request("POST", kInitialized, kSession).status() == 404);
  REQUIRE(h.wait_for_event("session.lost", [](const Event& e) { return e.fields["session"] == "sess-1"; }));
  CHECK(h.history("session.lost").size() == 3);
  CHECK(up.received().size() == 2);
}

TEST_CASE("a match on session acts only on that session's messages and requests") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"name", "err2"}, {"type", "error"},
                                            {"match", {{"method", "tools/list"}, {"session", "sess-2"}}},
                                            {"attributes", {{"code", -32042}, {"message", "injected"}}}},
                                           {{"name", "no_get2"}, {"type", "get_405"}, {"match", {{"session", "sess-2"}}}}}));
  const std::string session2 = "Mcp-Session-Id: sess-2\r\nMCP-Protocol-Version: 2025-06-18\r\n";
  HttpClient one(port);
  HttpClient two(port);
  CHECK(one.request("POST", kInit).header("mcp-session-id") == "sess-1");
  CHECK(two.request("POST", kInit).header("mcp-session-id") == "sess-2");
  for (int i = 0; i < 2; ++i) {  // the fault keeps to its session, call after call
    const auto list1 = json::parse(one.request("POST", kList, kSession).body);
    CHECK(list1["result"]["tools"][0]["name"] == "echo");
    const auto list2 = json::parse(two.request("POST", kList, session2).body);
    CHECK(list2["error"]["code"] == -32042);
  }
  // A request without messages is selected by a match on its session alone.
  CHECK(one.request("GET", "", kSession).status() == 200);
  CHECK(two.request("GET", "", session2).status() == 405);
  // The same session on another connection is still that session.
  HttpClient three(port);
  CHECK(json::parse(three.request("POST", kList, session2).body)["error"]["code"] == -32042);

  std::size_t lists = 0;
  for (const auto& m : up.received()) lists += m.body.find("tools/list") != std::string::npos;
  CHECK(lists == 2);  // only session 1's calls reached the server
  REQUIRE(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["fault"] == "no_get2"; }));
  std::size_t err2 = 0;
  for (const auto& e : h.history("fault.inject")) {
    if (e.fields["fault"] != "err2") continue;
    ++err2;
    CHECK(e.fields["session"] == "sess-2");
  }
  CHECK(err2 == 3);
}

TEST_CASE("strip_event_ids and rewrite_retry edit SSE fields; close_sse cuts the stream at a matched event") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"name", "strip"}, {"type", "strip_event_ids"}},
                                           {{"name", "retry"}, {"type", "rewrite_retry"}, {"attributes", {{"retry", 50}}}}}));
  HttpClient c(port);
  c.request("POST", kInit);
  auto stream = c.request("GET", "", kSession);
  CHECK(stream.body.find("id:") == std::string::npos);
  CHECK(stream.body.find("retry: 50\n") != std::string::npos);
  CHECK(sse_data(stream.body).size() == 3);

  h.remove_fault("mcp", "strip");
  h.remove_fault("mcp", "retry");
  h.add_fault("mcp", {{"type", "close_sse"}, {"match", {{"kind", "response"}}}});
  HttpClient d(port);
  d.send("POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + kSession +
         "Content-Length: " + std::to_string(kCall.size()) + "\r\n\r\n" + kCall);
  std::string seen;
  for (auto more = d.read_some(); !more.empty(); more = d.read_some()) seen += more;  // until the proxy closes
  CHECK(seen.find("c-1") != std::string::npos);
  CHECK(seen.find("c-2") == std::string::npos);
  CHECK(seen.find("0\r\n\r\n") == std::string::npos);  // cut: no terminating chunk
  REQUIRE(h.wait_for_event("sse.close", [](const Event& e) { return e.fields["how"] == "fault_close"; }));
}

TEST_CASE("byte faults act on the bytes the link writes: latency on what goes to the client") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port(),
                              json::array({{{"name", "slow"}, {"type", "latency"}, {"stream", "downstream"},
                                            {"attributes", {{"latency", 300}}}}}));
  HttpClient c(port);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.request("POST", kInit).status() == 200);
  CHECK(ms_since(t0) >= 280);
  h.remove_fault("mcp", "slow");
  t0 = std::chrono::steady_clock::now();
  CHECK(c.request("POST", kList, kSession).status() == 200);
  CHECK(ms_since(t0) < 250);
  REQUIRE(h.wait_for_event("fault.decision", [](const Event& e) { return e.fields["fault"] == "slow" && e.fields["applied"] == true; }));
}

// Each byte fault of the tcp proxy on an http link, as the client sees it. The
// link parses HTTP, so a fault acts on the bytes it writes: to the server
// (upstream) or to the client (downstream), write by write.
TEST_CASE("each byte fault acts on an http link, on the bytes the link writes") {
  McpUpstream up;
  ProxyHarness h;

  SUBCASE("latency with jitter: every round trip within latency +/- jitter") {
    const auto port = http_link(h, up.port(),
                                json::array({byte_fault("lat", "latency", "downstream", {{"latency", 60}, {"jitter", 30}})}));
    HttpClient c(port);
    CHECK(c.request("POST", kInit).status() == 200);
    const auto [lo, hi] = round_trip_range(12, [&](int) { CHECK(c.request("POST", kList, kSession).status() == 200); });
    CHECK(lo >= 29.5);
    CHECK(hi < 150.0);
    CHECK(hi - lo > 5.0);  // jitter does vary the delay
    CHECK(injected(h, "latency"));
  }
  SUBCASE("latency on an SSE response: each write leaves `latency` ms after it was ready, the delays do not add up") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("lat", "latency", "downstream", {{"latency", 300}})}));
    HttpClient c(port);
    CHECK(c.request("POST", kInit).status() == 200);
    // The head, the events and the last chunk are separate writes, all ready at about the same time.
    const auto t0 = std::chrono::steady_clock::now();
    const auto stream = c.request("POST", kCall, kSession);
    const double ms = ms_since(t0);
    CHECK(stream.header("content-type") == "text/event-stream");
    CHECK(sse_data(stream.body).size() == 2);
    CHECK(ms >= 290.0);
    CHECK(ms < 550.0);
  }
  SUBCASE("bandwidth: a 200 KB response at 400 KB/s takes about half a second") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("bw", "bandwidth", "downstream", {{"rate", 400}})}));
    HttpClient c(port);
    CHECK(c.request("POST", kInit).status() == 200);
    const std::string text(200'000, 'z');
    const auto big = json{{"jsonrpc", "2.0"}, {"id", 5}, {"method", "test/echo"}, {"params", {{"text", text}}}}.dump();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c.request("POST", big, kSession);
    const double ms = ms_since(t0);
    CHECK(json::parse(r.body)["result"]["text"] == text);
    CHECK(ms >= 450.0);
    CHECK(ms < 2500.0);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "bandwidth" && e.fields["rate_kbps"] == 400; }));
  }
  SUBCASE("slicer: the response arrives in many small reads, intact") {
    const auto port = http_link(h, up.port(),
                                json::array({byte_fault("slice", "slicer", "downstream",
                                                        {{"average_size", 10}, {"size_variation", 5}, {"delay", 3000}})}));
    HttpClient c(port);
    c.send(post(kInit));
    int reads = 0;
    const auto r = read_message(c.pending(), [&] {
      ++reads;
      return c.read_some();
    });
    REQUIRE(r);
    CHECK(r->status() == 200);
    CHECK(r->header("mcp-session-id") == "sess-1");
    CHECK(json::parse(r->body)["result"]["serverInfo"]["name"] == "scripted");
    CHECK(reads >= 8);  // ~270 bytes in pieces of 5..15 bytes, 3 ms apart
    CHECK(injected(h, "slicer"));
  }
  SUBCASE("slow_close: the server's close reaches the client only after the delay") {
    Upstream closing(answer_and_close());
    const auto port = http_link(h, closing.port(), json::array({byte_fault("sc", "slow_close", "downstream", {{"delay", 300}})}));
    HttpClient c(port);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c.request("POST", kList);
    CHECK(r.status() == 200);
    CHECK(r.header("connection") == "close");
    CHECK(ms_since(t0) < 250.0);  // the response is not delayed
    boost::system::error_code ec;
    CHECK(c.raw().read_some(ec).empty());
    CHECK(ec == asio::error::eof);
    CHECK(ms_since(t0) >= 295.0);
    CHECK(ms_since(t0) < 1500.0);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "slow_close" && e.fields["delay_ms"] == 300; }));
  }
  SUBCASE("slow_close upstream: the client's close reaches the server only after the delay") {
    std::atomic<std::chrono::steady_clock::time_point> server_saw_fin{};
    Upstream keeps_alive([&](tcp::socket& s) {
      std::string pending;
      while (read_message(pending, socket_reader(s))) answer_ok(s);
      server_saw_fin = std::chrono::steady_clock::now();
    });
    const auto port = http_link(h, keeps_alive.port(), json::array({byte_fault("sc", "slow_close", "upstream", {{"delay", 300}})}));
    HttpClient c(port);
    CHECK(c.request("POST", kList).status() == 200);
    const auto t0 = std::chrono::steady_clock::now();
    c.raw().shutdown_send();
    REQUIRE(eventually([&] { return server_saw_fin.load() != std::chrono::steady_clock::time_point{}; }));
    CHECK(std::chrono::duration<double, std::milli>(server_saw_fin.load() - t0).count() >= 295.0);
    boost::system::error_code ec;
    CHECK(c.raw().read_some(ec).empty());
    CHECK(ec == asio::error::eof);
    CHECK(ms_since(t0) < 1500.0);
    CHECK(injected(h, "slow_close"));
  }
  SUBCASE("timeout: nothing crosses, then the connection closes after timeout ms") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("to", "timeout", "upstream", {{"timeout", 300}})}));
    const auto t0 = std::chrono::steady_clock::now();
    HttpClient c(port);
    c.send(post(kInit));
    boost::system::error_code ec;
    CHECK(c.raw().read_some(ec).empty());
    CHECK(ec == asio::error::eof);
    CHECK(ms_since(t0) >= 290.0);
    CHECK(ms_since(t0) < 1500.0);
    CHECK(up.received().empty());
    CHECK(injected(h, "timeout", "hold"));
    CHECK(injected(h, "timeout", "close"));
  }
  SUBCASE("reset_peer: the client sees a real RST") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("rst", "reset_peer", "upstream", {{"timeout", 50}})}));
    HttpClient c(port);
    const auto t0 = std::chrono::steady_clock::now();
    c.send(post(kInit));
    boost::system::error_code ec;
    c.raw().read_some(ec);
    CHECK(ec == asio::error::connection_reset);
    CHECK(ms_since(t0) >= 45.0);
    CHECK(up.received().empty());
    CHECK(injected(h, "reset_peer", "rst"));
    CHECK(h.wait_for_event("conn.close", [](const Event& e) { return e.fields["closed_by"] == "proxy" && e.fields["how"] == "fault"; }));
  }
  SUBCASE("limit_data: the client gets exactly `bytes` bytes of the response, then the close") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("cut", "limit_data", "downstream", {{"bytes", 100}})}));
    HttpClient c(port);
    c.send(post(kInit));
    boost::system::error_code ec;
    const auto got = c.raw().read_exactly(5000, ec);
    CHECK(ec == asio::error::eof);
    CHECK(got.size() == 100);
    CHECK(got.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(up.received().size() == 1);
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "limit_data" && e.fields["passed_bytes"] == 100; }));
  }
  SUBCASE("down: the open connection is closed, new ones are refused; removing it brings the link back") {
    const auto port = http_link(h, up.port());
    HttpClient open(port);
    CHECK(open.request("POST", kInit).status() == 200);
    h.add_fault("mcp", {{"type", "down"}, {"name", "outage"}});
    boost::system::error_code ec;
    CHECK(open.raw().read_some(ec).empty());
    CHECK(ec == asio::error::eof);
    asio::io_context io;
    tcp::socket refused(io);
    refused.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    CHECK(ec == asio::error::connection_refused);
    CHECK(injected(h, "down", "close"));
    h.remove_fault("mcp", "outage");
    HttpClient again(port);
    CHECK(again.request("POST", kList, kSession).status() == 200);
  }
  SUBCASE("half_open: responses vanish, the connection stays open both ways") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("blackhole", "half_open", "downstream")}));
    HttpClient c(port);
    c.raw().set_timeout(400ms);
    c.send(post(kInit));
    CHECK(stays_silent(c));
    c.send(post(kList, kSession));  // the next request still reaches the server; its answer vanishes too
    CHECK(eventually([&] { return up.received().size() == 2; }));
    CHECK(stays_silent(c));
    CHECK(h.history("conn.close").empty());
    CHECK(injected(h, "half_open", "swallow"));
  }
  SUBCASE("half_open: the server's close vanishes too, until the fault is removed") {
    Upstream closing(answer_and_close());
    const auto port = http_link(h, closing.port(), json::array({byte_fault("blackhole", "half_open", "downstream")}));
    HttpClient c(port);
    c.raw().set_timeout(400ms);
    c.send(post(kList));
    REQUIRE(injected(h, "half_open", "hold_close"));
    CHECK(stays_silent(c));
    CHECK(h.history("conn.close").empty());
    // Removing the fault lets the held close through (the swallowed bytes stay gone).
    h.remove_fault("mcp", "blackhole");
    c.raw().set_timeout(3000ms);
    boost::system::error_code ec;
    CHECK(c.raw().read_some(ec).empty());
    CHECK(ec == asio::error::eof);
  }
  SUBCASE("half_open upstream: the request vanishes before the server, the call hangs, nothing closes") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("blackhole", "half_open", "upstream")}));
    HttpClient c(port);
    c.raw().set_timeout(400ms);
    c.send(post(kInit));
    REQUIRE(injected(h, "half_open", "swallow"));
    CHECK(stays_silent(c));  // the call hangs
    CHECK(up.received().empty());
    CHECK(h.history("conn.close").empty());
    // Without the fault a new connection's call goes through; the swallowed request stays gone.
    h.remove_fault("mcp", "blackhole");
    HttpClient again(port);
    CHECK(again.request("POST", kInit).status() == 200);
    CHECK(up.received().size() == 1);
  }
  SUBCASE("slow_open: the first response is `delay` ms late, later ones are not") {
    const auto port = http_link(h, up.port(), json::array({byte_fault("cold", "slow_open", "upstream", {{"delay", 250}})}));
    const auto t0 = std::chrono::steady_clock::now();
    HttpClient c(port);
    CHECK(ms_since(t0) < 100.0);  // the client's connect is immediate
    CHECK(c.request("POST", kInit).status() == 200);
    CHECK(ms_since(t0) >= 240.0);
    CHECK(ms_since(t0) < 1500.0);
    CHECK(up.accepted() == 1);
    const auto t1 = std::chrono::steady_clock::now();
    CHECK(c.request("POST", kList, kSession).status() == 200);
    CHECK(ms_since(t1) < 200.0);  // the upstream connection is kept: only the opening is slow
    CHECK(h.wait_for_event("fault.inject", [](const Event& e) { return e.fields["type"] == "slow_open" && e.fields["delay_ms"] == 250; }));
  }
}

TEST_CASE("HTTP faults are validated where they are configured, and only http links take them") {
  auto where = [](auto f) -> std::string {
    try {
      f();
    } catch (const ConfigError& e) {
      return e.where();
    }
    return "no error";
  };
  CHECK(where([] { parse_fault(json{{"type", "close_sse"}, {"attributes", {{"how", "later"}}}}, "/toxics/0"); }) ==
        "/toxics/0/attributes/how");
  CHECK(where([] { parse_fault(json{{"type", "rewrite_retry"}, {"attributes", {{"retry", -1}}}}, "/toxics/0"); }) ==
        "/toxics/0/attributes/retry");
  CHECK(where([] { parse_fault(json{{"type", "forget_session"}, {"stream", "downstream"}}, "/toxics/1"); }) != "no error");
  CHECK(where([] { parse_fault(json{{"type", "strip_event_ids"}, {"stream", "upstream"}}, "/toxics/2"); }) != "no error");
  const auto spec = parse_fault(json{{"type", "get_405"}}, "");
  CHECK(where([&] { check_fault_fits_protocol(spec, "websocket", "/toxics/0"); }) == "/toxics/0/type");
  CHECK(where([&] { check_fault_fits_protocol(spec, "tcp", "/toxics/0"); }) == "/toxics/0/type");
  CHECK(where([&] { check_fault_fits_protocol(spec, "http", "/toxics/0"); }) == "no error");
  const auto by_session = parse_fault(json{{"type", "drop"}, {"match", {{"session", "s1"}}}}, "");
  CHECK(where([&] { check_fault_fits_protocol(by_session, "websocket", "/toxics/0"); }) == "/toxics/0/match/session");
  CHECK(where([&] { check_fault_fits_protocol(by_session, "http", "/toxics/0"); }) == "no error");
  CHECK(parse_fault_text("forget_session,method=tools/call,sessions=2").frame->fault->attributes() == json{{"sessions", 2}});
}
