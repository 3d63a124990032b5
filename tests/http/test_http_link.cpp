// The http link on real loopback sockets: a scripted Streamable HTTP server
// upstream (blocking, on the harness's threads), raw HTTP/1.1 from the test
// thread through faultline (tests/http/http_peers.hpp). Forwarding with
// keep-alive and headers intact, SSE relayed event by event, the session
// record, bad input, upstreams that fail; and the link's session state
// (HttpLinkState) on its own. Faults on the link: test_http_link_faults.cpp.
#include <atomic>
#include <mutex>

#include "mcp/frame.hpp"
#include "proxy/http_sessions.hpp"
#include "tests/http/http_peers.hpp"

using namespace faultline;
using namespace faultline::test;
using json = nlohmann::json;

TEST_CASE("POST, GET and DELETE cross one kept-alive connection with their headers and bodies intact") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port());
  HttpClient c(port);

  auto init = c.request("POST", kInit);
  CHECK(init.status() == 200);
  CHECK(init.header("mcp-session-id") == "sess-1");
  CHECK(init.body == R"({"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"scripted","version":"1"}},"jsonrpc":"2.0","id":0})");
  CHECK(c.request("POST", kInitialized, kSession).status() == 202);
  auto list = c.request("POST", kList, kSession);
  CHECK(json::parse(list.body)["result"]["tools"][0]["name"] == "echo");
  auto stream = c.request("GET", "", kSession + "Last-Event-ID: ev-0\r\n");
  CHECK(stream.header("content-type") == "text/event-stream");
  CHECK(stream.body.find("id: ev-1\nretry: 3000\ndata: \n\n") == 0);  // ids and retry: pass untouched
  CHECK(sse_data(stream.body).size() == 3);
  CHECK(c.request("DELETE", "", kSession).status() == 200);

  CHECK(up.accepted() == 1);  // keep-alive on both sides: one upstream connection for five exchanges
  const auto got = up.received();
  REQUIRE(got.size() == 5);
  CHECK(got[0].body == kInit);  // bodies byte for byte
  CHECK(got[2].body == kList);
  CHECK(got[2].header("MCP-Protocol-Version") == "2025-06-18");
  CHECK(got[3].header("Last-Event-ID") == "ev-0");
  CHECK(std::count(got[2].raw_headers.begin(), got[2].raw_headers.end(), "Mcp-Session-Id: sess-1") == 1);  // names keep their case
  CHECK(got[4].start == "DELETE /mcp HTTP/1.1");

  // The record: each request, the session it belongs to, its replies matched by id.
  REQUIRE(h.wait_for_event("session.end", [](const Event&) { return true; }));
  CHECK(h.history("http.request").size() == 5);
  const auto init_ev = h.history("session.initialize");
  REQUIRE(init_ev.size() == 1);
  CHECK(init_ev[0].fields["clientInfo"]["name"] == "doctest");
  CHECK(init_ev[0].fields["protocolVersion"] == "2025-06-18");
  const auto news = h.history("session.new");
  REQUIRE(news.size() == 1);
  CHECK(news[0].fields["session"] == "sess-1");
  int matched = 0;
  for (const auto& e : h.history("rpc.response")) {
    CHECK(e.fields["latency_ms"].get<double>() >= 0);
    if (e.fields["method"] == "tools/list") CHECK(e.fields["session"] == "sess-1");
    ++matched;
  }
  CHECK(matched == 2);
  CHECK(h.history("rpc.notification").size() == 3);  // initialized, list_changed, message
  CHECK(h.history("session.reconnect").size() == 1);  // the GET resumed with Last-Event-ID
  CHECK(h.history("rpc.orphan_response").empty());
}

TEST_CASE("an SSE response reaches the client event by event, not when the stream ends") {
  McpUpstream up;
  up.sse_gap = 600ms;
  ProxyHarness h;
  const auto port = http_link(h, up.port());
  HttpClient c(port);
  c.request("POST", kInit);
  const auto t0 = std::chrono::steady_clock::now();
  c.send("POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + kSession +
         "Content-Length: " + std::to_string(kCall.size()) + "\r\n\r\n" + kCall);
  auto head = c.response(true);
  REQUIRE(head);
  CHECK(head->header("content-type") == "text/event-stream");
  std::string seen = c.pending();
  while (seen.find("c-1") == std::string::npos) seen += c.read_some();
  const double first_ms = ms_since(t0);
  CHECK(first_ms < 400);  // the first event came before the second was written
  while (seen.find("0\r\n\r\n") == std::string::npos) seen += c.read_some();
  CHECK(ms_since(t0) >= 550);
  CHECK(seen.find("c-2") != std::string::npos);
  REQUIRE(h.wait_for_event("rpc.response", [](const Event& e) { return e.fields["method"] == "tools/call"; }));
  REQUIRE(h.wait_for_event("sse.close", [](const Event& e) { return e.fields["how"] == "end"; }));
}

TEST_CASE("bad requests are answered 400 or 413 and recorded; other connections keep working") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = http_link(h, up.port());
  HttpClient good(port);
  good.request("POST", kInit);

  HttpClient conflict(port);
  auto r = conflict.request("POST", "", "Transfer-Encoding: chunked\r\n");  // with Content-Length: 0 added
  CHECK(r.status() == 400);
  CHECK(r.header("connection") == "close");
  CHECK(conflict.read_some().empty());  // closed after the answer

  HttpClient garbage(port);
  garbage.send("\x16\x03\x01 not http at all\r\n\r\n");
  auto g = garbage.response();
  REQUIRE(g);
  CHECK(g->status() == 400);

  HttpClient big(port);
  big.send("POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n{");
  auto b = big.response();
  REQUIRE(b);
  CHECK(b->status() == 413);

  CHECK(good.request("POST", kList, kSession).status() == 200);
  CHECK(h.history("http.bad_request").size() == 3);
  CHECK(up.received().size() == 2);  // nothing bad reached the server
}

TEST_CASE("max_message: a request body over the link's limit is answered 413, one under it is relayed") {
  McpUpstream up;
  ProxyHarness h;
  const auto port = h.link("mcp", up.port(), {}, "http", {{"max_message", 4096}});
  // A test/echo request of exactly `size` bytes.
  auto echo_of_size = [](std::size_t size) {
    return padded_json(R"({"jsonrpc":"2.0","id":7,"method":"test/echo","params":{"pad":")", size);
  };
  HttpClient good(port);
  const auto fits = echo_of_size(3000);
  auto r = good.request("POST", fits);
  CHECK(r.status() == 200);
  CHECK(json::parse(r.body)["result"] == json::parse(fits)["params"]);  // the server's echo
  REQUIRE(up.received().size() == 1);
  CHECK(up.received()[0].body == fits);
  CHECK(h.wait_for_event("rpc.request", [](const Event& e) { return e.fields["method"] == "test/echo"; }));
  CHECK(h.history("rpc.invalid").empty());

  HttpClient big(port);
  auto b = big.request("POST", echo_of_size(5000));
  CHECK(b.status() == 413);
  CHECK(b.header("connection") == "close");
  CHECK(big.read_some().empty());  // closed after the answer
  CHECK(h.wait_for_event("http.bad_request", [](const Event& e) { return e.fields["status"] == 413; }));
  CHECK(up.received().size() == 1);  // it never reached the server

  CHECK(good.request("POST", echo_of_size(4096)).status() == 200);  // the limit itself still passes
  CHECK(up.received().size() == 2);
}

TEST_CASE("an upstream that is down, closes, resets or answers garbage gets the client a 502; the link lives") {
  // Built by GCC 12, building the 502 answer inside the co_await freed a string twice: the process aborted.
  McpUpstream good;
  ProxyHarness h;
  const auto healthy = http_link(h, good.port());
  std::uint16_t refused = 0;
  {
    asio::io_context io;
    tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    refused = probe.local_endpoint().port();
  }  // nothing listens there now
  Upstream closes([](tcp::socket& s) {
    std::string pending;
    read_message(pending, socket_reader(s));
  });
  Upstream resets([](tcp::socket& s) {
    std::string pending;
    read_message(pending, socket_reader(s));
    s.set_option(asio::socket_base::linger(true, 0));
  });
  Upstream garbage([](tcp::socket& s) {
    std::string pending;
    read_message(pending, socket_reader(s));
    boost::system::error_code ec;
    asio::write(s, asio::buffer(std::string("\x16\x03\x01 not HTTP\r\n\r\n")), ec);
  });
  const std::vector<std::pair<std::string, std::uint16_t>> cases = {
      {"down", refused}, {"closes", closes.port()}, {"resets", resets.port()}, {"garbage", garbage.port()}};
  for (const auto& c : cases) {
    const auto name = c.first;
    INFO("upstream " << name);
    const auto port = h.link(name, c.second, {}, "http");
    for (int i = 0; i < 3; ++i) {  // the same connection after a 502: it is kept alive
      HttpClient client(port);
      auto r = client.request("POST", kList);
      CHECK(r.status() == 502);
      CHECK(json::parse(r.body)["error"]["code"] == -32603);
    }
    HttpClient other(healthy);
    CHECK(other.request("POST", kInit).status() == 200);
  }
  CHECK(h.history("http.upstream_error").size() >= 12);
}

TEST_CASE("a body nested 100,000 levels deep crosses an http link untouched both ways, recorded as rpc.invalid") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::atomic<int> served{0};
  std::string seen_by_server;
  std::mutex seen_mutex;
  Upstream up([&](tcp::socket& s) {
    std::string pending;
    auto m = read_message(pending, socket_reader(s));
    if (!m) return;
    {
      std::lock_guard lock(seen_mutex);
      seen_by_server = m->body;
    }
    boost::system::error_code ec;
    asio::write(s, asio::buffer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(deep.size()) + "\r\n\r\n" + deep), ec);
    ++served;
  });
  ProxyHarness h;
  // A frame fault on each direction makes the link run the frames through a chain, as a user's would.
  const auto port = http_link(h, up.port(), json::array({byte_fault("d1", "delay", "upstream", {{"delay", 1}}),
                                                        byte_fault("d2", "delay", "downstream", {{"delay", 1}})}));
  HttpClient client(port);
  auto r = client.request("POST", deep);
  CHECK(r.status() == 200);
  CHECK(r.body == deep);
  {
    std::lock_guard lock(seen_mutex);
    CHECK(seen_by_server == deep);
  }
  CHECK(h.wait_for_event("rpc.invalid", [](const Event& e) {
    return e.fields.dump().find("nests deeper than 512 levels") != std::string::npos;
  }));
  CHECK(client.request("POST", kList).status() == 200);  // the same connection goes on
}

// ---------------------------------------------------------------- HttpLinkState on its own

namespace {

struct StateProbe {
  EventLog log;
  std::vector<Event> events;
  HttpLinkState state{log, "link"};
  StateProbe() {
    log.add_sink([this](const Event& e) { events.push_back(e); });
  }
  std::string see(const std::string& key, mcp::Peer from, json message) {
    return state.observe(key, 1, from, mcp::make_frame(std::move(message)), std::chrono::steady_clock::now(), false);
  }
  std::vector<Event> of(const std::string& kind) const {
    std::vector<Event> out;
    for (const auto& e : events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
};

json call(int id, const std::string& method) { return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}}; }
json result(int id) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", json::object()}}; }

}  // namespace

TEST_CASE("a reply that comes again (replayed on a resumed stream) still carries its request's method") {
  StateProbe p;
  const auto request = mcp::make_frame(call(7, "tools/call"));
  CHECK(p.see("s1", mcp::Peer::client, call(7, "tools/call")) == "tools/call");
  p.state.note_relayed("s1", request);
  CHECK(p.see("s1", mcp::Peer::server, result(7)) == "tools/call");  // on the POST stream: a fault dropped it
  CHECK(p.see("s1", mcp::Peer::server, result(7)) == "tools/call");  // replayed after Last-Event-ID
  p.state.note_delivered("s1", mcp::make_frame(result(7)));          // this time it reached the client
  CHECK(p.see("s1", mcp::Peer::server, result(7)).empty());
  CHECK(p.see("s2", mcp::Peer::server, result(7)).empty());  // another session's ids are its own

  SUBCASE("the table is bounded: the oldest calls are forgotten first") {
    for (int id = 100; id < 100 + 5000; ++id) p.state.note_relayed("s1", mcp::make_frame(call(id, "ping")));
    CHECK(p.see("s1", mcp::Peer::server, result(100)).empty());
    CHECK(p.see("s1", mcp::Peer::server, result(100 + 4999)) == "ping");
  }
  SUBCASE("the record follows a temporary key to its session") {
    p.state.note_relayed("~1.1", mcp::make_frame(call(1, "initialize")));
    p.state.adopt("~1.1", "s3", 1);
    CHECK(p.see("s3", mcp::Peer::server, result(1)) == "initialize");
  }
}

TEST_CASE("session.switch: a legacy session that took over a broken one, used without initialize") {
  StateProbe p;
  const auto initialized = [&](const std::string& session) {
    p.see(session, mcp::Peer::client, call(0, "initialize"));
    p.see(session, mcp::Peer::server, result(0));
  };
  initialized("old");
  p.state.note_legacy_break("old", "127.0.0.1");

  SUBCASE("a new session on the same host, first used for tools/list") {
    p.state.note_legacy_session("other-host-session", "10.0.0.9");  // not the same client
    p.state.note_legacy_session("new", "127.0.0.1");
    p.see("new", mcp::Peer::client, call(5, "tools/list"));
    p.see("new", mcp::Peer::client, call(6, "tools/list"));
    const auto switches = p.of("session.switch");
    REQUIRE(switches.size() == 1);
    CHECK(switches[0].fields["from"] == "old");
    CHECK(switches[0].fields["to"] == "new");
    CHECK(switches[0].fields["session"] == "new");
    CHECK(switches[0].fields["initialized"] == false);
    CHECK(switches[0].fields["method"] == "tools/list");
  }
  SUBCASE("a new session the client initializes: no switch") {
    p.state.note_legacy_session("new", "127.0.0.1");
    initialized("new");
    p.see("new", mcp::Peer::client, call(5, "tools/list"));
    CHECK(p.of("session.switch").empty());
  }
  SUBCASE("a broken session is taken over once") {
    p.state.note_legacy_session("a", "127.0.0.1");
    p.state.note_legacy_session("b", "127.0.0.1");
    p.see("a", mcp::Peer::client, call(1, "ping"));
    p.see("b", mcp::Peer::client, call(1, "ping"));
    REQUIRE(p.of("session.switch").size() == 1);
    CHECK(p.of("session.switch")[0].fields["to"] == "a");
  }
  SUBCASE("a session that broke before it was initialized is no predecessor") {
    p.see("young", mcp::Peer::client, call(0, "initialize"));
    p.state.note_legacy_break("young", "10.0.0.2");
    p.state.note_legacy_session("next", "10.0.0.2");
    p.see("next", mcp::Peer::client, call(1, "ping"));
    CHECK(p.of("session.switch").empty());
  }
}
