// Every byte fault against real loopback sockets: a client, the proxy (on its
// own thread) and an upstream server. Timing checks have tolerances; every
// read has a timeout so a hung test fails.

#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;

namespace {

nlohmann::json toxic(const std::string& type, const std::string& stream, nlohmann::json attributes,
                     const std::string& name = "") {
  nlohmann::json t = {{"type", type}, {"stream", stream}, {"attributes", std::move(attributes)}};
  if (!name.empty()) t["name"] = name;
  return t;
}

std::string pattern(std::size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("no fault: bytes cross unchanged both ways, and the close is recorded") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("plain", up.port());
  {
    Client c(port);
    const auto data = pattern(1 << 20);
    std::thread writer([&] { c.send(data); });
    const auto back = c.read_exactly(data.size());
    writer.join();
    CHECK(back == data);
    c.shutdown_send();
    boost::system::error_code ec;
    c.read_some(ec);
    CHECK(ec == asio::error::eof);
  }
  REQUIRE(proxy.wait_for_event("conn.close", [](const Event&) { return true; }));
  auto close = proxy.history("conn.close").front();
  CHECK(close.fields["closed_by"] == "client");
  CHECK(close.fields["how"] == "fin");
  CHECK(close.fields["bytes_upstream"] == (1 << 20));
  CHECK(close.fields["bytes_downstream"] == (1 << 20));
}

TEST_CASE("latency: a round trip takes the configured delay more, measured from arrival") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("lat", up.port(), {toxic("latency", "downstream", {{"latency", 100}})});
  Client c(port);
  std::vector<double> rtts;
  for (int i = 0; i < 5; ++i) rtts.push_back(round_trip_ms(c, "ping" + std::to_string(i)));
  for (double r : rtts) {
    CHECK(r >= 99.5);
    CHECK(r < 150.0);
  }
  // Latency in both directions adds up; it is not added twice for queued chunks.
  proxy.add_fault("lat", toxic("latency", "upstream", {{"latency", 50}}));
  const double both = round_trip_ms(c, "x");
  CHECK(both >= 149.5);
  CHECK(both < 220.0);
  // A burst of 10 messages sent at once all arrive about 150 ms later, not 10 x 150 ms.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) c.send("0123456789");
  c.read_exactly(100);
  CHECK(ms_since(t0) < 400.0);
}

TEST_CASE("latency with jitter stays within latency +/- jitter") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("jit", up.port(), {toxic("latency", "downstream", {{"latency", 60}, {"jitter", 30}})});
  Client c(port);
  double lo = 1e9, hi = 0;
  for (int i = 0; i < 12; ++i) {
    const double r = round_trip_ms(c, "j");
    lo = std::min(lo, r);
    hi = std::max(hi, r);
  }
  CHECK(lo >= 29.5);
  CHECK(hi < 110.0);
  CHECK(hi - lo > 5.0);  // jitter does vary the delay
}

TEST_CASE("bandwidth: 200 KB at 400 KB/s takes about half a second") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("bw", up.port(), {toxic("bandwidth", "downstream", {{"rate", 400}})});
  Client c(port);
  const auto data = pattern(200'000);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread writer([&] { c.send(data); });
  const auto back = c.read_exactly(data.size());
  writer.join();
  const double ms = ms_since(t0);
  CHECK(back == data);
  CHECK(ms >= 450.0);
  CHECK(ms < 900.0);
}

TEST_CASE("slicer: a message arrives in pieces of about average_size, intact") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link(
      "slice", up.port(), {toxic("slicer", "downstream", {{"average_size", 10}, {"size_variation", 5}, {"delay", 3000}})});
  Client c(port);
  const auto data = pattern(200);
  c.send(data);
  std::string got;
  int reads = 0;
  while (got.size() < data.size()) {
    boost::system::error_code ec;
    got += c.read_some(ec);
    REQUIRE(!ec);
    ++reads;
  }
  CHECK(got == data);
  CHECK(reads >= 8);  // 200 bytes in pieces of 5..15 bytes, 3 ms apart
}

TEST_CASE("slow_close: the server's close reaches the client only after the delay") {
  Upstream up([](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("bye")));
    s.shutdown(tcp::socket::shutdown_both);
  });
  ProxyHarness proxy;
  const auto port = proxy.link("sc", up.port(), {toxic("slow_close", "downstream", {{"delay", 300}})});
  Client c(port);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c.read_exactly(3) == "bye");
  CHECK(ms_since(t0) < 200.0);  // the data is not delayed
  boost::system::error_code ec;
  c.read_some(ec);
  CHECK(ec == asio::error::eof);
  CHECK(ms_since(t0) >= 295.0);
}

TEST_CASE("timeout: nothing crosses, then the connection closes after timeout ms") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("to", up.port(), {toxic("timeout", "upstream", {{"timeout", 300}})});
  Client c(port);
  const auto t0 = std::chrono::steady_clock::now();
  c.send("hello");
  boost::system::error_code ec;
  const auto got = c.read_some(ec);
  CHECK(got.empty());
  CHECK(ec == asio::error::eof);
  CHECK(ms_since(t0) >= 290.0);
  CHECK(ms_since(t0) < 1000.0);
}

TEST_CASE("timeout 0 holds forever; removing it releases what it held, in order") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("hold", up.port(), {toxic("timeout", "upstream", {{"timeout", 0}}, "hold")});
  Client c(port, 300ms);
  c.send("first,");
  c.send("second");
  boost::system::error_code ec;
  CHECK(c.read_some(ec).empty());
  CHECK(is_timeout(ec));
  proxy.remove_fault("hold", "hold");
  c.set_timeout(3000ms);
  CHECK(c.read_exactly(12) == "first,second");
}

TEST_CASE("reset_peer: the client sees a real RST") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("rst", up.port(), {toxic("reset_peer", "upstream", {{"timeout", 50}})});
  Client c(port);
  const auto t0 = std::chrono::steady_clock::now();
  c.send("anything");
  boost::system::error_code ec;
  c.read_some(ec);
  CHECK(ec == asio::error::connection_reset);
  CHECK(ms_since(t0) >= 45.0);
  REQUIRE(proxy.wait_for_event("conn.close", [](const Event&) { return true; }));
  const auto close = proxy.history("conn.close").front();
  CHECK(close.fields["closed_by"] == "proxy");
  CHECK(close.fields["how"] == "fault");
}

TEST_CASE("limit_data: the client gets exactly `bytes` bytes, then the close") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("lim", up.port(), {toxic("limit_data", "downstream", {{"bytes", 1000}})});
  Client c(port);
  const auto data = pattern(5000);
  c.send(data);
  boost::system::error_code ec;
  const auto got = c.read_exactly(5000, ec);
  CHECK(got.size() == 1000);
  CHECK(got == data.substr(0, 1000));
  CHECK(ec == asio::error::eof);
}

TEST_CASE("down: new connections are refused, open ones closed; removing it brings the link back") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("dn", up.port());
  Client open(port);
  CHECK(round_trip_ms(open, "up") < 1000);
  proxy.add_fault("dn", {{"type", "down"}, {"name", "outage"}});
  boost::system::error_code ec;
  open.read_some(ec);
  CHECK(ec == asio::error::eof);
  asio::io_context io;
  tcp::socket refused(io);
  refused.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec == asio::error::connection_refused);
  proxy.remove_fault("dn", "outage");
  Client again(port);
  CHECK(round_trip_ms(again, "back") < 1000);
}

TEST_CASE("half_open: the server's bytes and close vanish; both sockets stay open") {
  Upstream up([](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("you will never see this")));
    s.close();
  });
  ProxyHarness proxy;
  const auto port = proxy.link("ho", up.port(), {toxic("half_open", "downstream", {}, "blackhole")});
  Client c(port, 500ms);
  boost::system::error_code ec;
  const auto got = c.read_some(ec);
  CHECK(got.empty());
  CHECK(is_timeout(ec));  // no data, no FIN, no RST: the silent failure
  c.send("still writable");  // the client side is still open
  CHECK(proxy.history("conn.close").empty());
  // Removing the fault lets the held close through (the swallowed bytes stay gone).
  proxy.remove_fault("ho", "blackhole");
  c.set_timeout(3000ms);
  c.read_some(ec);
  CHECK(ec == asio::error::eof);
}

TEST_CASE("slow_open: the upstream connection opens `delay` ms after the client's") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("so", up.port(), {toxic("slow_open", "upstream", {{"delay", 250}})});
  const auto t0 = std::chrono::steady_clock::now();
  Client c(port);
  CHECK(ms_since(t0) < 100.0);  // the client's connect is immediate
  const double rtt = round_trip_ms(c, "hi");
  CHECK(rtt >= 240.0);
  CHECK(up.accepted() == 1);
  CHECK(std::chrono::duration<double, std::milli>(up.last_accept() - t0).count() >= 245.0);
  CHECK(round_trip_ms(c, "again") < 100.0);  // only the opening is slow
}
