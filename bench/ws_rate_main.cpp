// faultline-bench-ws-rate: JSON-RPC messages per second and added latency
// through a websocket link (decoding on, no faults) against the same traffic
// through a plain TCP link and direct, in one run; plus faultline's RSS as
// the message count grows. Starts `faultline proxy` with both links in front
// of an in-process WebSocket echo server (it answers each request with a
// small result). Prints a table and one JSON line; gates nothing.
//
// Usage: faultline-bench-ws-rate --faultline PATH [--messages N] [--window W]
//        [--rtt N] [--rounds R] [--threads T] [--events FILE]

#include <sys/types.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "mcp/ws_codec.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using faultline::mcp::WsDecoder;
using faultline::mcp::WsDecoderOptions;
using faultline::mcp::WsEvent;
using faultline::mcp::WsOpcode;

namespace {

struct Options {
  std::string faultline;
  std::size_t messages = 500000;
  std::size_t window = 512;
  std::size_t rtt = 20000;
  int rounds = 3;
  int threads = 1;
  std::string events;
};

const tcp::endpoint kLoopback(asio::ip::make_address("127.0.0.1"), 0);

std::uint16_t free_port(asio::io_context& io) {
  tcp::acceptor a(io, kLoopback);
  return a.local_endpoint().port();
}

// The id of a request: the digits after "id":.
std::string_view id_of(std::string_view msg) {
  const auto at = msg.find("\"id\":");
  if (at == std::string_view::npos) return "null";
  auto rest = msg.substr(at + 5);
  std::size_t n = 0;
  while (n < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[n])) || rest[n] == '-')) ++n;
  return rest.substr(0, n);
}

// ------------------------------------------------------------ the upstream server

void serve_connection(tcp::socket s) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  std::string head;
  std::vector<char> buf(256 * 1024);
  while (head.find("\r\n\r\n") == std::string::npos) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) return;
    head.append(buf.data(), n);
  }
  const std::string answer =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: not-checked-by-the-bench\r\n\r\n";
  asio::write(s, asio::buffer(answer), ec);
  WsDecoder decoder(WsDecoderOptions{true, 64u << 20});
  std::vector<WsEvent> events;
  decoder.feed(std::string_view(head).substr(head.find("\r\n\r\n") + 4), events);
  std::string out;
  for (;;) {
    out.clear();
    for (const auto& e : events) {
      if (e.kind == WsEvent::close) return;
      if (e.kind != WsEvent::message) continue;
      std::string reply = "{\"jsonrpc\":\"2.0\",\"id\":";
      reply += id_of(e.payload);
      reply += ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}";
      faultline::mcp::append_ws_frame(out, WsOpcode::text, true, reply);
    }
    events.clear();
    if (!out.empty()) asio::write(s, asio::buffer(out), ec);
    if (ec) return;
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) return;
    decoder.feed(std::string_view(buf.data(), n), events);
  }
}

class EchoServer {
 public:
  EchoServer() : acceptor_(io_, kLoopback) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stop_) return;
        std::thread(serve_connection, std::move(s)).detach();
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::uint16_t port_ = 0;
};

// ------------------------------------------------------------ the client

class WsConnection {
 public:
  WsConnection(asio::io_context& io, std::uint16_t port) : s_(io) {
    s_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    s_.set_option(tcp::no_delay(true));
    const std::string req =
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n\r\n";
    asio::write(s_, asio::buffer(req));
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos) {  // byte by byte: frames may follow
      asio::read(s_, asio::buffer(&c, 1));
      head.push_back(c);
    }
    if (head.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("upgrade refused: " + head.substr(0, 40));
  }
  void send_requests(std::size_t first_id, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
      const auto msg = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(first_id + i) +
                       ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}";
      faultline::mcp::append_ws_frame(out, WsOpcode::text, true, msg, 0x5a5a1234u ^ static_cast<std::uint32_t>(i));
    }
    asio::write(s_, asio::buffer(out));
  }
  // Blocks until `count` replies arrived; returns how many.
  std::size_t read_replies(std::size_t count) {
    std::size_t got = 0;
    while (got < count) {
      events_.clear();
      const auto n = s_.read_some(asio::buffer(buf_));
      decoder_.feed(std::string_view(buf_.data(), n), events_);
      for (const auto& e : events_) got += e.kind == WsEvent::message;
    }
    return got;
  }
  tcp::socket& socket() { return s_; }

 private:
  tcp::socket s_;
  WsDecoder decoder_{WsDecoderOptions{false, 64u << 20}};
  std::vector<WsEvent> events_;
  std::vector<char> buf_ = std::vector<char>(256 * 1024);
};

// Request/response pairs per second with up to `window` requests in flight.
double pairs_per_second(asio::io_context& io, std::uint16_t port, std::size_t messages, std::size_t window) {
  WsConnection c(io, port);
  std::atomic<std::size_t> received{0};
  const auto t0 = Clock::now();
  std::thread reader([&] {
    while (received < messages) received += c.read_replies(1);
  });
  std::size_t sent = 0;
  const std::size_t burst = std::max<std::size_t>(1, window / 4);
  while (sent < messages) {
    while (sent - received.load() + burst > window) std::this_thread::yield();
    const auto n = std::min(burst, messages - sent);
    c.send_requests(sent, n);
    sent += n;
  }
  reader.join();
  return static_cast<double>(messages) / std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Percentiles {
  double p50 = 0, p99 = 0;
};

Percentiles round_trips(asio::io_context& io, std::uint16_t port, std::size_t count) {
  WsConnection c(io, port);
  std::vector<double> us;
  us.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    c.send_requests(i, 1);
    c.read_replies(1);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

bool wait_listening(asio::io_context& io, std::uint16_t port) {
  for (int i = 0; i < 500; ++i) {
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--faultline") o.faultline = v;
    else if (k == "--messages") o.messages = std::stoul(v);
    else if (k == "--window") o.window = std::stoul(v);
    else if (k == "--rtt") o.rtt = std::stoul(v);
    else if (k == "--rounds") o.rounds = std::stoi(v);
    else if (k == "--threads") o.threads = std::stoi(v);
    else if (k == "--events") o.events = v;
    else throw std::runtime_error("unknown option " + k);
  }
  if (o.faultline.empty()) throw std::runtime_error("--faultline PATH is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  asio::io_context io;
  EchoServer server;
  const auto ws_port = free_port(io), tcp_port = free_port(io);
  const auto upstream = "127.0.0.1:" + std::to_string(server.port());
  const nlohmann::json links = {
      {{"name", "ws"}, {"listen", "127.0.0.1:" + std::to_string(ws_port)}, {"upstream", upstream}, {"protocol", "websocket"}},
      {{"name", "tcp"}, {"listen", "127.0.0.1:" + std::to_string(tcp_port)}, {"upstream", upstream}}};
  char config[] = "/tmp/faultline-ws-rate-XXXXXX";
  const int fd = ::mkstemp(config);
  const auto text = links.dump();
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) throw std::runtime_error("config file");
  ::close(fd);

  std::vector<std::string> args = {o.faultline, "proxy", "--config", config, "--threads", std::to_string(o.threads)};
  if (!o.events.empty()) args.insert(args.end(), {"--events", o.events});
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv2;
    for (auto& a : args) argv2.push_back(a.data());
    argv2.push_back(nullptr);
    ::freopen("/dev/null", "w", stdout);
    ::execv(argv2[0], argv2.data());
    ::_exit(127);
  }
  if (!wait_listening(io, ws_port) || !wait_listening(io, tcp_port)) throw std::runtime_error("faultline did not start");

  struct Path {
    const char* name;
    std::uint16_t port;
    std::vector<double> rate;
    std::vector<Percentiles> rtt;
  };
  std::vector<Path> paths = {{"direct", server.port(), {}, {}}, {"tcp link", tcp_port, {}, {}}, {"websocket link", ws_port, {}, {}}};
  const long rss_start = rss_kb(pid);
  std::vector<long> rss_after;
  for (int r = 0; r < o.rounds; ++r) {
    for (auto& p : paths) {
      p.rate.push_back(pairs_per_second(io, p.port, o.messages, o.window));
      if (p.port == ws_port) rss_after.push_back(rss_kb(pid));
      p.rtt.push_back(round_trips(io, p.port, o.rtt));
    }
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ::unlink(config);

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  nlohmann::json result = {{"messages_per_round", o.messages}, {"window", o.window}, {"threads", o.threads},
                           {"events_file", !o.events.empty()}, {"rss_kb_start", rss_start}, {"rss_kb_after_rounds", rss_after}};
  std::printf("%-16s %16s %14s %10s %10s %14s\n", "path", "pairs/s", "messages/s", "p50 us", "p99 us", "p99 added us");
  std::vector<double> direct_p99;
  for (const auto& rt : paths[0].rtt) direct_p99.push_back(rt.p99);
  for (const auto& p : paths) {
    std::vector<double> p50, p99, added;
    for (std::size_t i = 0; i < p.rtt.size(); ++i) {
      p50.push_back(p.rtt[i].p50);
      p99.push_back(p.rtt[i].p99);
      added.push_back(p.rtt[i].p99 - direct_p99[i]);
    }
    const double rate = median(p.rate);
    std::printf("%-16s %16.0f %14.0f %10.1f %10.1f %14.1f\n", p.name, rate, rate * 2, median(p50), median(p99),
                median(added));
    result["paths"][p.name] = {{"pairs_per_s", rate}, {"messages_per_s", rate * 2}, {"p50_us", median(p50)},
                               {"p99_us", median(p99)}, {"p99_added_us", median(added)}};
  }
  std::printf("faultline RSS: %ld kB at start, after each round of %zu websocket pairs:", rss_start, o.messages);
  for (auto kb : rss_after) std::printf(" %ld", kb);
  std::printf(" kB\n%s\n", result.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "faultline-bench-ws-rate: %s\n", e.what());
  return 1;
}
