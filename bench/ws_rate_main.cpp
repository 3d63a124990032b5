// faultline-bench-ws-rate: JSON-RPC messages per second and added latency
// through a websocket link and a stdio link (decoding on, no faults) against
// the same traffic through a plain TCP link and direct, in one run; plus
// faultline's RSS as the message count grows. Starts `faultline proxy` with
// both links in front of an in-process WebSocket echo server, and
// `faultline wrap` around this program run as an NDJSON echo server
// (`--echo-stdio`), which is also run directly on plain pipes. Each server
// answers each request with a small result. Prints a table and one JSON
// line; gates nothing.
//
// Usage: faultline-bench-ws-rate --faultline PATH [--messages N] [--window W]
//        [--rtt N] [--block B] [--rounds R] [--threads T] [--events FILE]
//        [--baseline PATH] [--haproxy PATH|none] [--warm-cpus]
//        (--block: round trips per path before the next path's turn; the paths
//        take turns so that a stall of the machine falls on each alike.
//        --haproxy: a plain tcp relay measured in the same rounds, when found.
//        --warm-cpus: keep every CPU busy with SCHED_IDLE spinners, so no
//        wakeup pays for leaving an idle state; see CpuWarmers.)
//        (--baseline: another faultline binary, e.g. a build from before a
//        change, whose websocket and stdio links are measured in the same rounds)
//        faultline-bench-ws-rate --echo-stdio   (the stdio echo server)

#include <sys/types.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "bench/bench_process.hpp"
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
  std::size_t block = 100;  // round trips on one path before the next path's turn
  int rounds = 3;
  int threads = 1;
  std::string events;
  std::string baseline;  // another faultline binary measured alongside, or empty
  std::string haproxy = "haproxy";  // a plain relay measured alongside; "none": not
  bool warm_cpus = false;
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

// ------------------------------------------------------------ the stdio echo server and client

std::string reply_to(std::string_view request) {
  std::string reply = "{\"jsonrpc\":\"2.0\",\"id\":";
  reply += id_of(request);
  reply += ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}";
  return reply;
}

// Answers every NDJSON line on stdin with one line on stdout until EOF.
int echo_stdio() {
  std::vector<char> buf(256 * 1024);
  std::string pending, out;
  for (;;) {
    const auto n = ::read(0, buf.data(), buf.size());
    if (n <= 0) return 0;
    pending.append(buf.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    out.clear();
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      out += reply_to(std::string_view(pending).substr(start, nl - start));
      out += '\n';
      start = nl + 1;
    }
    pending.erase(0, start);
    for (std::size_t done = 0; done < out.size();) {
      const auto w = ::write(1, out.data() + done, out.size() - done);
      if (w <= 0) return 1;
      done += static_cast<std::size_t>(w);
    }
  }
}

// A child process talking NDJSON on its stdin/stdout pipes.
class StdioPeer {
 public:
  explicit StdioPeer(std::vector<std::string> args) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::runtime_error("pipe");
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
  }
  ~StdioPeer() {
    ::close(in_);  // EOF on the child's stdin: it ends (wrap shuts its server down)
    ::close(out_);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  void send_requests(std::size_t first_id, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
      out += "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(first_id + i) +
             ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}\n";
    for (std::size_t done = 0; done < out.size();) {
      const auto w = ::write(in_, out.data() + done, out.size() - done);
      if (w <= 0) throw std::runtime_error("write to the stdio peer failed");
      done += static_cast<std::size_t>(w);
    }
  }
  // Blocks until at least `count` more reply lines arrived; returns how many.
  std::size_t read_replies(std::size_t count) {
    std::size_t got = 0;
    while (got < count) {
      const auto n = ::read(out_, buf_.data(), buf_.size());
      if (n <= 0) throw std::runtime_error("the stdio peer closed its output");
      got += static_cast<std::size_t>(std::count(buf_.data(), buf_.data() + n, '\n'));
    }
    return got;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::vector<char> buf_ = std::vector<char>(256 * 1024);
};

double stdio_pairs_per_second(StdioPeer& peer, std::size_t messages, std::size_t window) {
  std::atomic<std::size_t> received{0};
  const auto t0 = Clock::now();
  std::thread reader([&] {
    while (received < messages) received += peer.read_replies(1);
  });
  std::size_t sent = 0;
  const std::size_t burst = std::max<std::size_t>(1, window / 4);
  while (sent < messages) {
    while (sent - received.load() + burst > window) std::this_thread::yield();
    const auto n = std::min(burst, messages - sent);
    peer.send_requests(sent, n);
    sent += n;
  }
  reader.join();
  return static_cast<double>(messages) / std::chrono::duration<double>(Clock::now() - t0).count();
}

// One timed request/response pair, in microseconds.
template <class Peer>
double one_round_trip(Peer& peer, std::size_t id) {
  const auto t0 = Clock::now();
  peer.send_requests(id, 1);
  peer.read_replies(1);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

Percentiles percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

using faultline::bench::CpuWarmers;
using faultline::bench::on_path;
using faultline::bench::rss_kb;
using faultline::bench::spawn;
using faultline::bench::TempFile;
using faultline::bench::wait_listening;

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--warm-cpus") {
      o.warm_cpus = true;
      continue;
    }
    if (i + 1 == argc) throw std::runtime_error(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--faultline") o.faultline = v;
    else if (k == "--messages") o.messages = std::stoul(v);
    else if (k == "--window") o.window = std::stoul(v);
    else if (k == "--rtt") o.rtt = std::stoul(v);
    else if (k == "--block") o.block = std::stoul(v);
    else if (k == "--rounds") o.rounds = std::stoi(v);
    else if (k == "--threads") o.threads = std::stoi(v);
    else if (k == "--events") o.events = v;
    else if (k == "--baseline") o.baseline = v;
    else if (k == "--haproxy") o.haproxy = v;
    else throw std::runtime_error("unknown option " + k);
  }
  if (o.block == 0) throw std::runtime_error("--block must be at least 1");
  if (o.faultline.empty()) throw std::runtime_error("--faultline PATH is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 2 && std::string_view(argv[1]) == "--echo-stdio") return echo_stdio();
  const Options o = parse(argc, argv);
  asio::io_context io;
  EchoServer server;
  const auto upstream = "127.0.0.1:" + std::to_string(server.port());

  // `faultline proxy` (BINARY) with a websocket and a tcp link in front of the echo server.
  struct Proxy {
    pid_t pid = -1;
    std::uint16_t ws_port = 0, tcp_port = 0;
  };
  std::vector<std::unique_ptr<TempFile>> configs;
  auto start_proxy = [&](const std::string& binary, const std::string& events) {
    Proxy p{-1, free_port(io), free_port(io)};
    const nlohmann::json links = {
        {{"name", "ws"}, {"listen", "127.0.0.1:" + std::to_string(p.ws_port)}, {"upstream", upstream}, {"protocol", "websocket"}},
        {{"name", "tcp"}, {"listen", "127.0.0.1:" + std::to_string(p.tcp_port)}, {"upstream", upstream}}};
    const auto& config = *configs.emplace_back(std::make_unique<TempFile>(links.dump()));
    std::vector<std::string> args = {binary, "proxy", "--config", config.path(), "--threads", std::to_string(o.threads)};
    if (!events.empty()) args.insert(args.end(), {"--events", events});
    p.pid = spawn(args);
    if (!wait_listening(io, p.ws_port) || !wait_listening(io, p.tcp_port)) throw std::runtime_error(binary + " did not start");
    return p;
  };
  // haproxy in tcp mode in front of the same server: what any user-space relay
  // costs on this machine, taken in the same rounds.
  pid_t haproxy_pid = -1;
  std::uint16_t haproxy_port = 0;
  if (o.haproxy != "none" && on_path(o.haproxy)) {
    haproxy_port = free_port(io);
    const auto& config = *configs.emplace_back(std::make_unique<TempFile>(
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\nlisten echo\n  bind 127.0.0.1:" +
        std::to_string(haproxy_port) + "\n  server upstream " + upstream + "\n"));
    haproxy_pid = spawn({o.haproxy, "-db", "-q", "-f", config.path()});
    if (!wait_listening(io, haproxy_port)) {
      std::printf("(%s did not start: the haproxy row is left out)\n", o.haproxy.c_str());
      ::kill(haproxy_pid, SIGKILL);
      ::waitpid(haproxy_pid, nullptr, 0);
      haproxy_pid = -1;
    }
  } else if (o.haproxy != "none") {
    std::printf("(no %s on PATH: the haproxy row is left out)\n", o.haproxy.c_str());
  }
  const Proxy proxy = start_proxy(o.faultline, o.events);
  const pid_t pid = proxy.pid;
  const auto ws_port = proxy.ws_port, tcp_port = proxy.tcp_port;

  // The stdio echo server on plain pipes, and behind `faultline wrap`.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  StdioPeer pipe_peer({self, "--echo-stdio"});
  std::vector<std::string> wrap_args = {o.faultline, "wrap"};
  if (!o.events.empty()) wrap_args.insert(wrap_args.end(), {"--events", o.events + ".stdio"});
  wrap_args.insert(wrap_args.end(), {"--", self, "--echo-stdio"});
  StdioPeer wrap_peer(wrap_args);
  std::optional<Proxy> base_proxy;
  std::optional<StdioPeer> base_wrap_peer;
  if (!o.baseline.empty()) {
    // The same recording as the measured binary, to files of its own.
    base_proxy = start_proxy(o.baseline, o.events.empty() ? "" : o.events + ".base");
    std::vector<std::string> base_wrap_args = {o.baseline, "wrap"};
    if (!o.events.empty()) base_wrap_args.insert(base_wrap_args.end(), {"--events", o.events + ".base.stdio"});
    base_wrap_args.insert(base_wrap_args.end(), {"--", self, "--echo-stdio"});
    base_wrap_peer.emplace(base_wrap_args);
  }

  // Round trips are taken one per path in turn (the order rotating each
  // time), so a stall of the machine falls on every path alike instead of on
  // whichever path happened to be measured then: that is what makes one
  // path's p99 minus another's a figure about the link, not about the moment.
  struct Path {
    const char* name;
    std::size_t baseline;  // the path whose p99 this one adds to
    std::function<double()> measure_rate;
    std::function<double(std::size_t)> round_trip;  // over a connection kept open for the run
    std::vector<double> rate = {};
    std::vector<Percentiles> rtt = {};
    std::vector<double> samples = {};
  };
  std::vector<std::unique_ptr<WsConnection>> rtt_connections;
  std::size_t stdio_pipe_index = 0;  // the stdio links' baseline, set below
  auto tcp_path = [&](const char* name, std::uint16_t port) {
    auto& c = *rtt_connections.emplace_back(std::make_unique<WsConnection>(io, port));
    return Path{name, 0, [&io, &o, port] { return pairs_per_second(io, port, o.messages, o.window); },
                [&c](std::size_t id) { return one_round_trip(c, id); }};
  };
  auto stdio_path = [&](const char* name, StdioPeer& peer) {
    return Path{name, stdio_pipe_index, [&o, &peer] { return stdio_pairs_per_second(peer, o.messages, o.window); },
                [&peer](std::size_t id) { return one_round_trip(peer, id); }};
  };
  std::vector<Path> paths;
  paths.push_back(tcp_path("direct", server.port()));
  paths.push_back(tcp_path("tcp link", tcp_port));
  paths.push_back(tcp_path("websocket link", ws_port));
  if (haproxy_pid > 0) paths.push_back(tcp_path("haproxy (tcp)", haproxy_port));
  stdio_pipe_index = paths.size();
  paths.push_back(stdio_path("stdio pipe", pipe_peer));
  paths.push_back(stdio_path("stdio link", wrap_peer));
  if (base_proxy) {
    paths.push_back(tcp_path("ws link (base)", base_proxy->ws_port));
    paths.push_back(stdio_path("stdio link (base)", *base_wrap_peer));
    base_wrap_peer->send_requests(0, 1);
    base_wrap_peer->read_replies(1);
  }
  wrap_peer.send_requests(0, 1);  // wrap is up and its server started before its RSS is read
  wrap_peer.read_replies(1);
  const std::size_t ws_index = 2;
  const long rss_start = rss_kb(pid), wrap_rss_start = rss_kb(wrap_peer.pid());
  std::vector<long> rss_after, wrap_rss_after;
  for (int r = 0; r < o.rounds; ++r) {
    for (std::size_t i = 0; i < paths.size(); ++i) {
      paths[i].rate.push_back(paths[i].measure_rate());
      if (i == ws_index) rss_after.push_back(rss_kb(pid));
      if (i == stdio_pipe_index + 1) wrap_rss_after.push_back(rss_kb(wrap_peer.pid()));
    }
    for (auto& p : paths) p.samples.clear();
    std::optional<CpuWarmers> warmers;  // for the round trips only: rates are taken as the machine is
    if (o.warm_cpus) warmers.emplace();
    for (std::size_t n = 0, turn = 0; n < o.rtt; n += o.block, ++turn)
      for (std::size_t k = 0; k < paths.size(); ++k) {
        auto& p = paths[(turn + k) % paths.size()];
        for (std::size_t i = n; i < std::min(o.rtt, n + o.block); ++i) p.samples.push_back(p.round_trip(i));
      }
    for (auto& p : paths) p.rtt.push_back(percentiles(p.samples));
  }
  rtt_connections.clear();
  for (const pid_t child : {pid, haproxy_pid, base_proxy ? base_proxy->pid : -1}) {
    if (child <= 0) continue;
    ::kill(child, SIGTERM);
    ::waitpid(child, nullptr, 0);
  }

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  nlohmann::json result = {{"messages_per_round", o.messages}, {"window", o.window}, {"threads", o.threads},
                           {"block", o.block}, {"warm_cpus", o.warm_cpus},
                           {"events_file", !o.events.empty()}, {"rss_kb_start", rss_start}, {"rss_kb_after_rounds", rss_after},
                           {"wrap_rss_kb_start", wrap_rss_start}, {"wrap_rss_kb_after_rounds", wrap_rss_after}};
  std::printf("%-16s %16s %14s %10s %10s %14s\n", "path", "pairs/s", "messages/s", "p50 us", "p99 us", "p99 added us");
  for (const auto& p : paths) {
    std::vector<double> p50, p99, added;
    for (std::size_t i = 0; i < p.rtt.size(); ++i) {
      p50.push_back(p.rtt[i].p50);
      p99.push_back(p.rtt[i].p99);
      added.push_back(p.rtt[i].p99 - paths[p.baseline].rtt[i].p99);
    }
    const double rate = median(p.rate);
    std::printf("%-16s %16.0f %14.0f %10.1f %10.1f %14.1f\n", p.name, rate, rate * 2, median(p50), median(p99),
                median(added));
    result["paths"][p.name] = {{"pairs_per_s", rate}, {"messages_per_s", rate * 2}, {"p50_us", median(p50)},
                               {"p99_us", median(p99)}, {"p99_added_us", median(added)}};
  }
  std::printf("(round trips taken %zu at a time per path, paths in turn; p99 added: the websocket, tcp and haproxy"
              " paths against direct, the stdio links against the plain pipe%s%s)\n",
              o.block, base_proxy ? "; (base): the --baseline binary" : "", o.warm_cpus ? "; CPUs kept warm" : "");
  if (haproxy_pid > 0) {
    // What the links add beyond what a plain relay adds, paired per round.
    const auto& relay = paths[ws_index + 1];
    for (const std::size_t i : {std::size_t{1}, ws_index}) {
      std::vector<double> over;
      for (std::size_t r = 0; r < relay.rtt.size(); ++r) over.push_back(paths[i].rtt[r].p99 - relay.rtt[r].p99);
      std::sort(over.begin(), over.end());
      std::printf("%s p99 minus haproxy's, per round: median %+.1f us (%+.1f ... %+.1f)\n", paths[i].name, median(over),
                  over.front(), over.back());
      result["paths"][paths[i].name]["p99_minus_haproxy_us"] = median(over);
    }
  }
  std::printf("faultline proxy RSS: %ld kB at start, after each round of %zu websocket pairs:", rss_start, o.messages);
  for (auto kb : rss_after) std::printf(" %ld", kb);
  std::printf(" kB\nfaultline wrap RSS: %ld kB at start, after each round of %zu stdio pairs:", wrap_rss_start, o.messages);
  for (auto kb : wrap_rss_after) std::printf(" %ld", kb);
  std::printf(" kB\n%s\n", result.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "faultline-bench-ws-rate: %s\n", e.what());
  return 1;
}
