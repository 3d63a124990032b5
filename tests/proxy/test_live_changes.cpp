// Adding and removing faults on a live link: established connections are
// affected at once, and no byte in flight is lost or reordered.

#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;

TEST_CASE("adding a fault acts on an established connection at once") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("live", up.port());
  Client c(port);
  auto rtt = [&] { return round_trip_ms(c, "x"); };
  CHECK(rtt() < 50.0);
  proxy.add_fault("live", {{"type", "latency"}, {"attributes", {{"latency", 120}}}});
  CHECK(rtt() >= 119.0);
  proxy.remove_fault("live", "latency_downstream");
  CHECK(rtt() < 50.0);
}

TEST_CASE("churning faults during a stream loses and reorders nothing") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("churn", up.port());
  Client c(port, 10000ms);
  constexpr std::size_t kTotal = 3'000'000;
  std::string sent(kTotal, '\0');
  for (std::size_t i = 0; i < kTotal; ++i) sent[i] = static_cast<char>((i * 7919) >> 3);
  std::thread writer([&] {
    for (std::size_t off = 0; off < kTotal; off += 30'000) {
      c.send(sent.substr(off, 30'000));
      std::this_thread::sleep_for(1ms);
    }
  });
  std::atomic<bool> done{false};
  std::thread churn([&] {
    const nlohmann::json faults[] = {
        {{"type", "latency"}, {"name", "f"}, {"stream", "downstream"}, {"attributes", {{"latency", 20}, {"jitter", 10}}}},
        {{"type", "timeout"}, {"name", "f"}, {"stream", "upstream"}, {"attributes", {{"timeout", 0}}}},
        {{"type", "slicer"}, {"name", "f"}, {"stream", "downstream"}, {"attributes", {{"average_size", 700}, {"size_variation", 300}, {"delay", 10}}}},
        {{"type", "bandwidth"}, {"name", "f"}, {"stream", "upstream"}, {"attributes", {{"rate", 20000}}}},
        {{"type", "slow_close"}, {"name", "f"}, {"stream", "upstream"}, {"attributes", {{"delay", 10}}}},
    };
    int i = 0;
    while (!done) {
      proxy.add_fault("churn", faults[i % 5]);
      std::this_thread::sleep_for(15ms);
      proxy.remove_fault("churn", "f");
      std::this_thread::sleep_for(5ms);
      ++i;
    }
  });
  boost::system::error_code ec;
  const auto got = c.read_exactly(kTotal, ec);
  done = true;
  churn.join();
  writer.join();
  CHECK(!ec);
  REQUIRE(got.size() == kTotal);
  CHECK(got == sent);
  CHECK(proxy.history("fault.start").size() >= 5);
}

TEST_CASE("a fault changed through an update applies to open connections") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto port = proxy.link("upd", up.port(), {{{"type", "latency"}, {"name", "l"}, {"attributes", {{"latency", 30}}}}});
  Client c(port);
  auto rtt = [&] { return round_trip_ms(c, "x"); };
  CHECK(rtt() >= 29.0);
  proxy.call([&] { return proxy.runtime().faults().change("upd", "l", {{"attributes", {{"latency", 150}}}}).expect(); });
  const double after = rtt();
  CHECK(after >= 149.0);
  CHECK(after < 300.0);
}
