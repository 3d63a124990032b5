#pragma once
// The peers of the http link tests: a scripted Streamable HTTP server upstream
// (blocking, on the harness's threads) that answers by JSON-RPC method and
// records what it received, a raw HTTP/1.1 client for the test thread, the
// message reader both use, and the requests the tests send.

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/proxy/harness.hpp"

namespace faultline::test {

inline std::string lower(std::string s) {
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
      const auto msg = nlohmann::json::parse(m->body, nullptr, false);
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
        json_response(s, nlohmann::json{{"jsonrpc", "2.0"}, {"id", msg["id"]},
                                        {"result", msg.value("params", nlohmann::json::object())}}.dump());
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

inline std::uint16_t http_link(ProxyHarness& h, std::uint16_t upstream,
                               const nlohmann::json& toxics = nlohmann::json::array()) {
  return h.link("mcp", upstream, toxics.get<std::vector<nlohmann::json>>(), "http");
}

inline const std::string kInit =
    R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"doctest","version":"9"}}})";
inline const std::string kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";
inline const std::string kCall = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}})";
inline const std::string kList = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
inline const std::string kSession = "Mcp-Session-Id: sess-1\r\nMCP-Protocol-Version: 2025-06-18\r\n";

// What a socket has next ("" at the end), for read_message on an upstream's side.
inline auto socket_reader(tcp::socket& s) {
  return [&s]() -> std::string {
    std::array<char, 65536> buf;
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(buf), ec);
    return ec ? std::string() : std::string(buf.data(), n);
  };
}

inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::regex data("data: ([^\n]*)\n");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), data); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

}  // namespace faultline::test
