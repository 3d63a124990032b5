#pragma once
// Test harness for the proxy: runs a Runtime's main loop on its own thread with
// sessions on two worker threads (as `faultline proxy` does) and gives the test
// thread blocking loopback sockets with receive timeouts, so a hung test fails
// instead of waiting.

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include "core/event_log.hpp"
#include "core/host_port.hpp"
#include "runtime/admin_api.hpp"
#include "runtime/runtime.hpp"

namespace faultline::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class ProxyHarness {
 public:
  explicit ProxyHarness(std::uint64_t seed = 7, unsigned workers = 2)
      : runtime_(options(seed, workers)), events(runtime_.events()), registry_(runtime_.links()) {
    events.add_sink([this](const Event& e) {
      std::lock_guard lock(mutex_);
      history_.push_back(e);
    });
    thread_ = std::thread([this] { runtime_.run(); });
  }
  ~ProxyHarness() {
    call([&] {
      registry_.stop_all("test over");
      if (auto* api = runtime_.api()) api->stop();
      return 0;
    });
    // Let the sessions on the workers close before their threads stop.
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (call([&] { return registry_.open_sessions(); }) != 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(2ms);
    // Stopped from inside the loop (a post after run() returned would never
    // run), then the guard that kept it running goes.
    call([&] {
      runtime_.stop();
      return 0;
    });
    work_.reset();
    thread_.join();  // run() stops the workers and delivers what their sessions posted back
  }

  // Runs `f` on the proxy's thread and returns its result (rethrowing its exception).
  template <class F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(runtime_.io(), [&task] { task(); });
    return result.get();
  }

  // Creates a link to `upstream_port` with the given toxics (and any other
  // fields of the link in `extra`); returns its port.
  // A vector, not a json: `{toxic}` as a json is an array under GCC and the
  // toxic itself under Clang.
  std::uint16_t link(const std::string& name, std::uint16_t upstream_port,
                     const std::vector<nlohmann::json>& toxics = {}, const std::string& protocol = "tcp",
                     const nlohmann::json& extra = nlohmann::json::object()) {
    return call([&] {
      nlohmann::json body = {{"name", name},
                             {"listen", "127.0.0.1:0"},
                             {"upstream", "127.0.0.1:" + std::to_string(upstream_port)},
                             {"protocol", protocol},
                             {"toxics", nlohmann::json(toxics)}};
      body.update(extra);
      auto l = registry_.create(body);
      return parse_host_port(l->config().listen)->port;
    });
  }
  // Through the fault API; an error is thrown as ErrorException.
  void add_fault(const std::string& link, nlohmann::json toxic) {
    call([&] { return runtime_.faults().add(link, toxic).expect(); });
  }
  void remove_fault(const std::string& link, const std::string& fault) {
    call([&] {
      runtime_.faults().remove(link, fault).expect();
      return 0;
    });
  }
  std::uint16_t start_api(const std::string& token = "", const std::string& address = "127.0.0.1:0") {
    return call([&] { return parse_host_port(runtime_.serve_api(address, token).address())->port; });
  }
  Runtime& runtime() { return runtime_; }
  LinkRegistry& registry() { return registry_; }

  std::vector<Event> history(const std::string& kind = "") {
    std::lock_guard lock(mutex_);
    std::vector<Event> out;
    for (const auto& e : history_)
      if (kind.empty() || e.kind == kind) out.push_back(e);
    return out;
  }
  // Waits up to `limit` for an event of `kind` satisfying `pred`.
  bool wait_for_event(const std::string& kind, const std::function<bool(const Event&)>& pred,
                      std::chrono::milliseconds limit = 3000ms) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& e : history(kind))
        if (pred(e)) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  static RuntimeOptions options(std::uint64_t seed, unsigned workers) {
    RuntimeOptions o;
    o.source = "test";
    o.seed = seed;
    o.threads = workers;
    return o;
  }

 private:
  // Before the runtime: its sink writes here until the runtime is gone.
  std::mutex mutex_;
  std::vector<Event> history_;
  Runtime runtime_;

 public:
  EventLog& events;

 private:
  LinkRegistry& registry_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{runtime_.io().get_executor()};
  std::thread thread_;
};

// Waits until `pred` holds, at most `limit`.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A byte fault in the admin API's shape.
inline nlohmann::json byte_fault(const std::string& name, const std::string& type, const std::string& stream,
                                 nlohmann::json attributes = nlohmann::json::object()) {
  return {{"name", name}, {"type", type}, {"stream", stream}, {"attributes", std::move(attributes)}};
}

// Whether a fault of `type` (and `action`, when given) has injected, waiting a while for it.
inline bool injected(ProxyHarness& h, const std::string& type, const std::string& action = "") {
  return h.wait_for_event("fault.inject", [&](const Event& e) {
    return e.fields["type"] == type && (action.empty() || e.fields.value("action", "") == action);
  });
}

// The fastest and slowest of `n` timed calls of `round_trip`, in ms.
inline std::pair<double, double> round_trip_range(int n, const std::function<void(int)>& round_trip) {
  double lo = 1e9, hi = 0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    round_trip(i);
    lo = std::min(lo, ms_since(t0));
    hi = std::max(hi, ms_since(t0));
  }
  return {lo, hi};
}

// A blocking client socket whose reads give up after a timeout (the hang guard).
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds recv_timeout = 5000ms)
      : socket_(io_), timeout_(recv_timeout) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  void send(const std::string& data) { asio::write(socket_, asio::buffer(data)); }
  // What arrives next, waiting at most the timeout: data, or an error
  // (eof, connection_reset, timed_out).
  std::string read_some(boost::system::error_code& ec, std::size_t limit = 65536) {
    ec.clear();
    pollfd p{socket_.native_handle(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    if (ready == 0) {
      ec = asio::error::timed_out;
      return {};
    }
    std::string out(limit, '\0');
    const auto n = ::recv(socket_.native_handle(), out.data(), out.size(), 0);
    if (n < 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return {};
    }
    if (n == 0) ec = asio::error::eof;
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  // Reads exactly n bytes, or fewer if the stream ends or stalls; `ec` says why it stopped.
  std::string read_exactly(std::size_t n, boost::system::error_code& ec) {
    std::string out;
    while (out.size() < n) {
      out += read_some(ec, n - out.size());
      if (ec) break;
    }
    return out;
  }
  std::string read_exactly(std::size_t n) {
    boost::system::error_code ec;
    auto s = read_exactly(n, ec);
    REQUIRE_MESSAGE(!ec, "read failed: " << ec.message());
    return s;
  }
  void shutdown_send() { socket_.shutdown(tcp::socket::shutdown_send); }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  std::chrono::milliseconds timeout_;
};

// Sends `payload` and reads its echo; returns the round trip in ms.
inline double round_trip_ms(Client& c, const std::string& payload) {
  const auto t0 = std::chrono::steady_clock::now();
  c.send(payload);
  CHECK(c.read_exactly(payload.size()) == payload);
  return ms_since(t0);
}

// `head` (JSON up to an open string: ...{"pad":") padded with 'p' and closed
// by "}} to exactly `size` bytes.
inline std::string padded_json(std::string_view head, std::size_t size) {
  constexpr std::string_view tail = R"("}})";
  return std::string(head) + std::string(size - head.size() - tail.size(), 'p') + std::string(tail);
}

inline bool is_timeout(const boost::system::error_code& ec) {
  return ec == asio::error::timed_out;
}

// An upstream server on its own thread, running `script` for each accepted connection.
class Upstream {
 public:
  using Script = std::function<void(tcp::socket&)>;
  explicit Upstream(Script script)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), script_(std::move(script)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~Upstream() {
    stop_ = true;
    boost::system::error_code ec;
    {  // wake accept()
      tcp::socket poke(io_);
      poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    thread_.join();
    for (auto& t : sessions_) t.join();
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  std::chrono::steady_clock::time_point last_accept() const { return last_accept_; }

  static Script echo() {
    return [](tcp::socket& s) {
      std::array<char, 65536> buf;
      boost::system::error_code ec;
      for (;;) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) break;
        asio::write(s, asio::buffer(buf.data(), n), ec);
        if (ec) break;
      }
    };
  }

 private:
  void serve() {
    for (;;) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (stop_ || ec) return;
      last_accept_ = std::chrono::steady_clock::now();
      ++accepted_;
      sessions_.emplace_back([this, sock = std::move(s)]() mutable {
        sock.set_option(tcp::no_delay(true));
        script_(sock);
      });
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  Script script_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<std::chrono::steady_clock::time_point> last_accept_{};
  std::thread thread_;
  std::vector<std::thread> sessions_;
};

}  // namespace faultline::test
