// The http link on real loopback sockets: a scripted Streamable HTTP server
// upstream (blocking, on the harness's threads), raw HTTP/1.1 from the test
// thread through faultline. Forwarding with keep-alive and headers intact, SSE
// relayed event by event, the session record, frame and HTTP faults, each byte
// fault on the bytes the link writes, bad input.
#include <atomic>
#include <map>
#include <regex>

#include "core/errors.hpp"
#include "faults/byte_fault_spec.hpp"
#include "mcp/frame.hpp"
#include "proxy/http_sessions.hpp"
#include "proxy/link.hpp"
#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct HttpMessage {
  std::string start;                          // request line or status line
  std::map<std::string, std::string> headers;  // names lower-cased
  std::vector<std::string> raw_headers;       // "Name: value" as received
  std::string body;
  int status() const { return std::stoi(start.substr(9, 3)); }
  std::string header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
  }
};

// Reads bytes with `read(n)` (returning "" at the end) until a blank line, then the body.
template <class ReadSome>
std::optional<HttpMessage> read_message(std::string& pending, ReadSome read_some, bool headers_only = false) {
  while (pending.find("\r\n\r\n") == std::string::npos) {
    auto more = read_some();
    if (more.empty()) return std::nullopt;
    pending += more;
  }
  HttpMessage m;
  const auto end = pending.find("\r\n\r\n");
  std::string head = pending.substr(0, end);
  pending.erase(0, end + 4);
  std::size_t pos = head.find("\r\n");
  m.start = head.substr(0, pos);
  while (pos != std::string::npos) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const auto colon = line.find(':');
    m.raw_headers.push_back(line);
    m.headers[lower(line.substr(0, colon))] = line.substr(colon + 2);
    pos = next;
  }
  if (headers_only) return m;
  if (m.headers.contains("content-length")) {
    const auto n = std::stoul(m.headers["content-length"]);
    while (pending.size() < n) {
      auto more = read_some();
      if (more.empty()) return std::nullopt;
      pending += more;
    }
    m.body = pending.substr(0, n);
    pending.erase(0, n);
  } else if (lower(m.header("transfer-encoding")) == "chunked") {
    for (;;) {
      while (pending.find("\r\n") == std::string::npos) pending += read_some();
      const auto line_end = pending.find("\r\n");
      const auto size = std::stoul(pending.substr(0, line_end), nullptr, 16);
      while (pending.size() < line_end + 2 + size + 2) {
        auto more = read_some();
        if (more.empty()) return std::nullopt;
        pending += more;
      }
      m.body += pending.substr(line_end + 2, size);
      pending.erase(0, line_end + 2 + size + 2);
      if (size == 0) break;
    }
  }
  return m;
}

// The scripted MCP server: answers by JSON-RPC method, records what it received.
class McpUpstream {
 public:
  McpUpstream()
      : server_([this](tcp::socket& s) { serve(s); }) {}
  std::uint16_t port() const { return server_.port(); }
  int accepted() const { return server_.accepted(); }
  std::vector<HttpMessage> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::chrono::milliseconds sse_gap{0};  // pause between the two events of a tools/call stream

 private:
  static void write(tcp::socket& s, const std::string& text) {
    boost::system::error_code ec;
    asio::write(s, asio::buffer(text), ec);
  }
  static std::string chunk(const std::string& data) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  }
  static void json_response(tcp::socket& s, const std::string& body, const std::string& extra = "") {
    write(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  void serve(tcp::socket& s) {
    std::string pending;
    auto read_some = [&s]() -> std::string {
      std::array<char, 65536> buf;
      boost::system::error_code ec;
      const auto n = s.read_some(asio::buffer(buf), ec);
      return ec ? std::string() : std::string(buf.data(), n);
    };
    for (;;) {
      auto m = read_message(pending, read_some);
      if (!m) return;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(*m);
      }
      const auto method = m->start.substr(0, m->start.find(' '));
      if (method == "DELETE") {
        write(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        continue;
      }
      if (method == "GET") {
        write(s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
        write(s, chunk("id: ev-1\nretry: 3000\ndata: \n\n"));
        write(s, chunk("event: message\nid: ev-2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"));
        write(s, chunk("id: ev-3\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\"}}\n\n"));
        write(s, chunk(""));
        continue;
      }
      const auto msg = json::parse(m->body, nullptr, false);
      if (msg.is_discarded()) {
        json_response(s, R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
        continue;
      }
      if (!msg.contains("id")) {
        write(s, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        continue;
      }
      const auto id = msg["id"].dump();
      const std::string name = msg.value("method", "");
      if (name == "initialize") {
        json_response(s,
                      R"({"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"scripted","version":"1"}},"jsonrpc":"2.0","id":)" + id + "}",
                      "mcp-session-id: sess-" + std::to_string(++sessions_) + "\r\n");
      } else if (name == "tools/call") {
        write(s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        write(s, chunk("id: c-1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n"));
        std::this_thread::sleep_for(sse_gap);
        write(s, chunk("id: c-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":{\"content\":[]}}\n\n"));
        write(s, chunk(""));
      } else if (name == "test/echo") {
        json_response(s, json{{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"result", msg.value("params", json::object())}}.dump());
      } else {
        json_response(s, R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{"tools":[{"name":"echo"}]}})");
      }
    }
  }

  Upstream server_;
  std::atomic<int> sessions_{0};  // each initialize opens the next session: sess-1, sess-2, ...
  std::mutex mutex_;
  std::vector<HttpMessage> received_;
};

// A client on the test thread speaking HTTP/1.1 over one connection.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : c_(port) {}
  void send(const std::string& text) { c_.send(text); }
  std::string read_some() {
    boost::system::error_code ec;
    auto s = c_.read_some(ec);
    return ec ? std::string() : s;
  }
  std::optional<HttpMessage> response(bool headers_only = false) {
    return read_message(pending_, [this] { return read_some(); }, headers_only);
  }
  HttpMessage request(const std::string& method, const std::string& body, const std::string& extra = "") {
    std::string text = method + " /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n" + extra;
    if (!body.empty() || method == "POST")
      text += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    text += "\r\n" + body;
    send(text);
    auto m = response();
    REQUIRE_MESSAGE(m, "no response to " << method);
    return *m;
  }
  std::string& pending() { return pending_; }
  Client& raw() { return c_; }

 private:
  Client c_;
  std::string pending_;
};

std::uint16_t http_link(ProxyHarness& h, std::uint16_t upstream, const json& toxics = json::array()) {
  return h.link("mcp", upstream, toxics.get<std::vector<json>>(), "http");
}

const std::string kInit =
    R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"doctest","version":"9"}}})";
const std::string kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";
const std::string kCall = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}})";
const std::string kList = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
const std::string kSession = "Mcp-Session-Id: sess-1\r\nMCP-Protocol-Version: 2025-06-18\r\n";

// A POST of `body` as a client writes it.
std::string post(const std::string& body, const std::string& extra = "") {
  return "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n" + extra +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// What a socket has next ("" at the end), for read_message on an upstream's side.
auto socket_reader(tcp::socket& s) {
  return [&s]() -> std::string {
    std::array<char, 65536> buf;
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(buf), ec);
    return ec ? std::string() : std::string(buf.data(), n);
  };
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


std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::regex data("data: ([^\n]*)\n");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), data); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

}  // namespace

// One read with the client's timeout: true when nothing came, neither data nor
// a FIN nor an RST, before it ran out (the link holds the connection silent).
bool stays_silent(HttpClient& c) {
  boost::system::error_code ec;
  return c.raw().read_some(ec).empty() && is_timeout(ec);
}

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
