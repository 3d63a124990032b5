// Seeded replay, and bad input on the data path: unreachable upstreams,
// clients that vanish or send garbage. Every other connection keeps working.

#include <sys/resource.h>
#include <unistd.h>

#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;

namespace {

// Opens `n` connections through a link with a toxicity-0.5 fault and returns
// which ones the fault was applied to, in connection order.
std::vector<bool> decisions(std::uint64_t seed, int n) {
  Upstream up(Upstream::echo());
  ProxyHarness proxy(seed);
  const auto port = proxy.link("dice", up.port(),
                               {{{"type", "latency"}, {"name", "coin"}, {"toxicity", 0.5}, {"attributes", {{"latency", 1}}}}});
  for (int i = 0; i < n; ++i) {
    Client c(port);
    c.send("x");
    c.read_exactly(1);
  }
  REQUIRE(proxy.wait_for_event("fault.decision", [&](const Event& e) { return e.fields["conn"] == n; }));
  std::vector<bool> applied(static_cast<std::size_t>(n));
  for (const auto& e : proxy.history("fault.decision"))
    applied[e.fields["conn"].get<std::size_t>() - 1] = e.fields["applied"].get<bool>();
  return applied;
}

}  // namespace

TEST_CASE("the same seed makes the same decisions; another seed makes others") {
  const auto a = decisions(42, 24);
  const auto b = decisions(42, 24);
  const auto c = decisions(43, 24);
  CHECK(a == b);
  CHECK(a != c);
  const auto hits = std::count(a.begin(), a.end(), true);
  CHECK(hits > 3);  // about half, far from none or all
  CHECK(hits < 21);
}

TEST_CASE("an upstream that refuses: the client is closed, the event says why, the link keeps serving") {
  std::uint16_t dead_port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = a.local_endpoint().port();
  }  // closed: connecting to it is refused
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto bad = proxy.link("bad", dead_port);
  const auto good = proxy.link("good", up.port());
  {
    Client c(bad);
    boost::system::error_code ec;
    c.read_some(ec);
    CHECK((ec == asio::error::connection_reset || ec == asio::error::eof));
  }
  REQUIRE(proxy.wait_for_event("conn.close", [](const Event& e) { return e.source == "proxy:bad"; }));
  const auto close = proxy.history("conn.close").front();
  CHECK(close.fields["how"] == "error");
  CHECK(close.fields["reason"].get<std::string>().find("refused") != std::string::npos);
  Client ok(good);
  ok.send("fine");
  CHECK(ok.read_exactly(4) == "fine");
}

TEST_CASE("out of descriptors, a failed upstream connect gives the real reason, not \"Operation canceled\"") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy(7, 0);  // sessions on the proxy's own thread
  // slow_open holds the upstream connect for a while after the client's connection is accepted.
  const auto port = proxy.link("fds", up.port(), {byte_fault("wait", "slow_open", "upstream", {{"delay", 500}})});
  Client c(port);
  REQUIRE(proxy.wait_for_event("conn.open", [](const Event&) { return true; }));
  // No descriptor left: the lowest free one is over the limit.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  const int lowest_free = ::dup(0);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit lowered = saved;
  lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  const bool closed = proxy.wait_for_event("conn.close", [](const Event&) { return true; });
  ::setrlimit(RLIMIT_NOFILE, &saved);
  REQUIRE(closed);
  const auto reason = proxy.history("conn.close").front().fields["reason"].get<std::string>();
  CHECK(reason == "upstream 127.0.0.1:" + std::to_string(up.port()) + ": Too many open files");
  // Descriptors back: the link serves. A fresh connection a try, within a
  // bound: once, on a loaded machine, the first one after the window got no
  // echo in 5 s (not explained; see the closing note of issue 10).
  CHECK(eventually(
      [&] {
        Client again(port, 1000ms);
        again.send("ok");
        boost::system::error_code ec;
        return again.read_exactly(2, ec) == "ok" && !ec;
      },
      10000ms));
}

TEST_CASE("clients that vanish mid-stream or send garbage do not disturb other connections") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("robust", up.port(), {{{"type", "latency"}, {"attributes", {{"latency", 20}}}}});
  Client steady(port);
  for (int i = 0; i < 20; ++i) {
    Client rude(port);
    std::string garbage(4096, '\0');
    for (std::size_t j = 0; j < garbage.size(); ++j) garbage[j] = static_cast<char>(j * 37 + static_cast<std::size_t>(i));
    rude.send(garbage);
    if (i % 2) rude.socket().set_option(asio::socket_base::linger(true, 0));  // vanish with a RST
    rude.socket().close();
  }
  steady.send("still here");
  CHECK(steady.read_exactly(10) == "still here");
  // Every rude connection is closed and forgotten; only the steady one stays.
  std::uint64_t open = 0;
  for (int i = 0; i < 300; ++i) {
    open = proxy.call([&] { return proxy.registry().find("robust")->stats().connections_open.load(); });
    if (open == 1) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(open == 1);
  CHECK(proxy.history("conn.close").size() == 20);
  steady.send("and still");
  CHECK(steady.read_exactly(9) == "and still");
}

TEST_CASE("a link whose port is taken fails to start with an error naming the address") {
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  ProxyHarness proxy;
  const auto status = proxy.call([&] {
    try {
      proxy.registry().create({{"name", "clash"}, {"listen", "127.0.0.1:" + std::to_string(port)}, {"upstream", "127.0.0.1:1"}});
      return 0;
    } catch (const ErrorException& e) {
      CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
      return static_cast<int>(e.error().kind);
    }
  });
  CHECK(status == static_cast<int>(Error::Kind::failed));
  CHECK(proxy.call([&] { return proxy.registry().links().size(); }) == 0);
}
