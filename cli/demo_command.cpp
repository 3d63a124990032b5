// `faultline demo`: the built-in default run. A loopback echo server, a link
// in front of it, a client driving round trips through the link while the
// timeline adds a latency fault, then a reset_peer fault, then clears them;
// a readable summary of what the client saw and what faultline recorded.

#include <algorithm>
#include <cstdio>
#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "core/errors.hpp"
#include "cli/runtime_options.hpp"

namespace faultline::cli {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct DemoOptions {
  EventsOptions events;
  std::uint64_t seed = 1;
  int latency_ms = 50;
  int round_trips = 20;
};

struct Phase {
  std::string name;
  std::vector<double> rtt_ms;
  std::string outcome;
};

asio::awaitable<void> echo_session(tcp::socket s) {
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    if (ec) co_return;
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n), use_tuple);
    if (wec) co_return;
  }
}

asio::awaitable<void> echo_server(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, s] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), echo_session(std::move(s)), asio::detached);
  }
}

// Round trips of 64 bytes; stops at the first error and says what it was.
asio::awaitable<void> round_trips(tcp::socket& s, int count, Phase& phase) {
  std::array<char, 64> out{}, in{};
  for (int i = 0; i < count; ++i) {
    std::fill(out.begin(), out.end(), static_cast<char>('a' + i % 26));
    const auto start = std::chrono::steady_clock::now();
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
    if (wec) {
      phase.outcome = "write failed: " + wec.message();
      co_return;
    }
    auto [rec, rn] = co_await asio::async_read(s, asio::buffer(in), use_tuple);
    if (rec) {
      phase.outcome = "read failed: " + rec.message() + (rec == asio::error::connection_reset ? " (RST)" : "");
      co_return;
    }
    phase.rtt_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (in != out) {
      phase.outcome = "echo mismatch";
      co_return;
    }
  }
  phase.outcome = "ok";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

int run_demo(const DemoOptions& o) {
  // Declared before the runtime: its sink below writes here until the runtime is gone.
  std::map<std::string, int> kinds;
  std::vector<Event> closes, injections;
  RuntimeOptions options;
  options.source = "demo";
  options.seed = o.seed;
  const auto runtime = start_runtime(std::move(options), o.events);
  EventLog& events = runtime->events();
  events.add_sink([&](const Event& e) {
    ++kinds[e.kind];
    if (e.kind == "conn.close") closes.push_back(e);
    if (e.kind == "fault.inject") injections.push_back(e);
  });
  ++kinds["run.start"];  // written before this sink was added
  asio::io_context& io = runtime->io();
  tcp::acceptor echo(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto echo_port = echo.local_endpoint().port();
  asio::co_spawn(io, echo_server(echo), asio::detached);

  auto& faults = runtime->faults();
  auto link = runtime->links().create({{"name", "demo"},
                               {"listen", "127.0.0.1:0"},
                               {"upstream", "127.0.0.1:" + std::to_string(echo_port)}});
  const auto listen = *parse_host_port(link->config().listen);

  std::vector<Phase> phases;
  auto client = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    const tcp::endpoint target(asio::ip::make_address("127.0.0.1"), listen.port);
    auto connect = [&](tcp::socket& s) -> asio::awaitable<boost::system::error_code> {
      auto [ec] = co_await s.async_connect(target, use_tuple);
      if (!ec) s.set_option(tcp::no_delay(true));
      co_return ec;
    };
    tcp::socket s(ex);
    co_await connect(s);

    phases.push_back({"1. baseline, no fault", {}, {}});
    co_await round_trips(s, o.round_trips, phases.back());

    faults.add("demo", {{"name", "slow_server"}, {"type", "latency"}, {"stream", "downstream"},
                        {"attributes", {{"latency", o.latency_ms}, {"jitter", 0}}}})
        .expect();
    phases.push_back({"2. latency " + std::to_string(o.latency_ms) + " ms downstream (live, same connection)", {}, {}});
    co_await round_trips(s, o.round_trips, phases.back());

    faults.remove("demo", "slow_server").expect();
    faults.add("demo", {{"name", "rst"}, {"type", "reset_peer"}, {"stream", "upstream"},
                        {"attributes", {{"timeout", 100}}}})
        .expect();
    phases.push_back({"3. reset_peer after 100 ms upstream", {}, {}});
    co_await round_trips(s, o.round_trips, phases.back());

    faults.remove("demo", "rst").expect();
    tcp::socket again(ex);
    co_await connect(again);
    phases.push_back({"4. faults cleared, new connection", {}, {}});
    co_await round_trips(again, o.round_trips, phases.back());
    again.close();
    s.close();

    asio::steady_timer settle(ex, std::chrono::milliseconds(100));
    co_await settle.async_wait(use_tuple);
    runtime->links().stop_all("demo finished");
    echo.close();
  };
  asio::co_spawn(io, client(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  runtime->end();

  std::printf("\nfaultline demo: echo server on 127.0.0.1:%u, link \"demo\" on %s, seed %llu\n\n", echo_port,
              link->config().listen.c_str(), static_cast<unsigned long long>(o.seed));
  std::printf("  %-58s %6s %9s %9s  %s\n", "phase", "trips", "p50 ms", "max ms", "client saw");
  bool expected = true;
  for (const auto& p : phases) {
    const double mx = p.rtt_ms.empty() ? 0 : *std::max_element(p.rtt_ms.begin(), p.rtt_ms.end());
    std::printf("  %-58s %6zu %9.2f %9.2f  %s\n", p.name.c_str(), p.rtt_ms.size(), percentile(p.rtt_ms, 0.5), mx,
                p.outcome.c_str());
  }
  expected = phases.size() == 4 && phases[0].outcome == "ok" && phases[1].outcome == "ok" &&
             percentile(phases[1].rtt_ms, 0.5) >= o.latency_ms && phases[2].outcome.find("RST") != std::string::npos &&
             phases[3].outcome == "ok";
  std::printf("\n  connections through the link:\n");
  for (const auto& c : closes)
    std::printf("    #%s closed by %s (%s): %s; %s bytes up, %s bytes down, %.3f s\n", c.fields["conn"].dump().c_str(),
                c.fields.value("closed_by", "?").c_str(), c.fields.value("how", "?").c_str(),
                c.fields.value("reason", "").c_str(), c.fields["bytes_upstream"].dump().c_str(),
                c.fields["bytes_downstream"].dump().c_str(), c.fields.value("duration_s", 0.0));
  std::printf("\n  injections:\n");
  for (const auto& [name, counters] : link->stats().faults())
    std::printf("    %-12s (%s): %llu\n", name.c_str(), counters.type.c_str(),
                static_cast<unsigned long long>(counters.injections));
  std::printf("\n  events recorded:");
  for (const auto& [kind, n] : kinds) std::printf(" %s=%d", kind.c_str(), n);
  std::printf("\n");
  if (auto* recorder = runtime->recorder())
    std::printf("  event history: %s (%zu lines)\n", o.events.path.c_str(), recorder->lines());
  std::printf("\n  %s\n\n", expected ? "every fault had the effect it promised"
                                     : "UNEXPECTED: a phase did not behave as the fault promised");
  return expected ? kExitOk : kExitRuntime;
}

}  // namespace

void register_demo_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<DemoOptions>();
  auto* cmd = root.add_subcommand("demo", "Built-in demo: an echo server, a link, latency then reset_peer, a summary");
  add_events_options(*cmd, opts->events);
  cmd->add_option("--seed", opts->seed, "Seed for every random decision")->capture_default_str()->check(seed_number());
  cmd->add_option("--latency", opts->latency_ms, "Latency of phase 2, in ms")
      ->check(whole_number_in(1, 10000, "a whole number of milliseconds"))
      ->capture_default_str();
  cmd->add_option("--round-trips", opts->round_trips, "Round trips per phase")
      ->check(whole_number_in(1, 100000, "a whole number"))
      ->capture_default_str();
  cmd->callback([opts, &result] { result.exit_code = run_guarded("demo", [&] { return run_demo(*opts); }); });
}

}  // namespace faultline::cli
