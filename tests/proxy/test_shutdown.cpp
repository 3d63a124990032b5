// Graceful shutdown and connections spread over worker threads: a drain
// delivers what faults hold before the FIN, and many connections on two
// workers with faults changing under them keep every byte.

#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;

namespace {

void drain(ProxyHarness& proxy, std::chrono::milliseconds grace) {
  proxy.call([&] {
    proxy.registry().drain_all(grace, "test drain");
    return 0;
  });
}

}  // namespace

TEST_CASE("a drain releases what a latency fault holds, then closes with a FIN") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link(
      "held", up.port(), nlohmann::json::array({{{"type", "latency"}, {"attributes", {{"latency", 1500}}}}}));
  Client c(port, 3000ms);
  c.send("hello");
  // The echo is back at the proxy and held by the fault well before 1.5 s.
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  drain(proxy, 2000ms);
  CHECK(c.read_exactly(5) == "hello");
  CHECK(ms_since(t0) < 700.0);  // released at once, not after the fault's 1.5 s
  boost::system::error_code ec;
  c.read_some(ec);
  CHECK(ec == asio::error::eof);
  REQUIRE(proxy.wait_for_event("conn.close", [](const Event&) { return true; }));
  const auto close = proxy.history("conn.close").front();
  CHECK(close.fields["closed_by"] == "proxy");
  CHECK(close.fields["how"] == "drain");
  CHECK(close.fields["reason"] == "test drain");
  CHECK(close.fields["bytes_downstream"] == 5);
}

TEST_CASE("a drain passes data a timeout fault holds on to the server, then a FIN") {
  std::mutex m;
  std::string received;
  std::atomic<bool> got_fin{false};
  Upstream up([&](tcp::socket& s) {
    std::array<char, 1024> buf;
    boost::system::error_code ec;
    for (;;) {
      const auto n = s.read_some(asio::buffer(buf), ec);
      if (ec) {
        got_fin = ec == asio::error::eof;
        return;
      }
      std::lock_guard lock(m);
      received.append(buf.data(), n);
    }
  });
  ProxyHarness proxy;
  const auto port = proxy.link(
      "held", up.port(),
      nlohmann::json::array({{{"type", "timeout"}, {"stream", "upstream"}, {"attributes", {{"timeout", 0}}}}}));
  Client c(port, 3000ms);
  c.send("abc");
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(m);
    CHECK(received.empty());  // held forever by the fault
  }
  drain(proxy, 2000ms);
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (!got_fin && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  CHECK(got_fin);
  std::lock_guard lock(m);
  CHECK(received == "abc");
}

TEST_CASE("a drain stops listening: new connections are refused") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("gone", up.port());
  { Client c(port); CHECK(round_trip_ms(c, "x") < 100.0); }
  drain(proxy, 500ms);
  boost::system::error_code ec;
  asio::io_context io;
  tcp::socket probe(io);
  probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("many connections on two worker threads, faults churning, keep every byte") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy(7, 2);
  const auto port = proxy.link("many", up.port());
  constexpr int kClients = 16;
  constexpr std::size_t kBytes = 200'000;
  std::atomic<bool> done{false};
  std::thread churn([&] {
    while (!done) {
      proxy.add_fault("many", {{"type", "slicer"}, {"name", "s"}, {"attributes", {{"average_size", 500}, {"delay", 0}}}});
      std::this_thread::sleep_for(3ms);
      proxy.remove_fault("many", "s");
      proxy.add_fault("many", {{"type", "latency"}, {"name", "l"}, {"stream", "upstream"}, {"attributes", {{"latency", 2}}}});
      std::this_thread::sleep_for(3ms);
      proxy.remove_fault("many", "l");
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> intact{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client c(port, 10000ms);
      std::string sent(kBytes, '\0');
      for (std::size_t k = 0; k < kBytes; ++k) sent[k] = static_cast<char>((k * 31 + static_cast<std::size_t>(i)) & 0xff);
      std::thread writer([&] {
        for (std::size_t off = 0; off < kBytes; off += 10'000) c.send(sent.substr(off, 10'000));
      });
      boost::system::error_code ec;
      const auto got = c.read_exactly(kBytes, ec);
      writer.join();
      if (!ec && got == sent) ++intact;
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  churn.join();
  CHECK(intact == kClients);
  const auto total = proxy.call([&] { return proxy.registry().find("many")->stats().connections_total.load(); });
  CHECK(total == kClients);
}

TEST_CASE("deleting a link closes its open connections, every time") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  for (int i = 0; i < 200; ++i) {
    const auto port = proxy.link("gone" + std::to_string(i), up.port());
    proxy.call([&] {  // rebinding the listener must not lose track of connections
      proxy.registry().find("gone" + std::to_string(i))->set_enabled(false);
      proxy.registry().find("gone" + std::to_string(i))->set_enabled(true);
      return 0;
    });
    Client c(port, 2000ms);
    CHECK(round_trip_ms(c, "ok") < 1000.0);
    proxy.call([&] {
      proxy.registry().remove("gone" + std::to_string(i));
      return 0;
    });
    boost::system::error_code ec;
    c.read_some(ec);
    REQUIRE_MESSAGE(ec == asio::error::eof, "round " << i << ": " << ec.message());
  }
}
