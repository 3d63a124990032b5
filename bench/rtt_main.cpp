// faultline-bench-rtt: request/response round-trip latency over TCP on loopback.
//   serve --listen 127.0.0.1:P [--delay-us D]  echo server (every byte back, TCP_NODELAY),
//                                              optionally D µs after it arrived
//   ping  --connect 127.0.0.1:P [--count N] [--warmup W] [--size B] [--connections C]
//         [--stagger-us S] [--pace-us P] [--timeout-ms T] [--label L]
//                                             ping-pong client; prints one JSON line
// Each of C connections sends B bytes, waits for the B echoed bytes, and records the time;
// C > 1 keeps several connections busy at once (useful when each round trip is slow), and
// --stagger-us starts connection i after i*S µs so that their round trips do not line up;
// --pace-us starts each connection's round trips P µs apart (an idle gap between them, as
// a delaying peer would leave; the baseline for a latency fault).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "bench/bench_common.hpp"
#include "bench/echo_server.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

int serve(const faultline::bench::Flags& flags) {
  auto endpoint = faultline::bench::parse_endpoint(flags.required("listen"));
  const auto delay = std::chrono::microseconds(flags.number("delay-us", 0));
  flags.reject_unknown();
  faultline::bench::raise_nofile(1 << 20);
  asio::io_context io(1);
  faultline::bench::start_echo_server(io, endpoint, 64 * 1024, false, delay);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { io.stop(); });
  std::fprintf(stderr, "faultline-bench-rtt: echo on %s\n", flags.required("listen").c_str());
  io.run();
  return 0;
}

struct PingPlan {
  tcp::endpoint target;
  std::size_t size = 64;
  long warmup = 0;
  long count = 0;
  std::chrono::microseconds start_delay{0};
  std::chrono::microseconds pace{0};
};

struct PingResult {
  std::vector<double> samples_us;
  long errors = 0;
  std::string first_error;
  long running = 0;
  std::function<void()> on_all_done;
};

asio::awaitable<void> ping_loop(PingPlan plan, PingResult& result) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  auto [connect_ec] = co_await socket.async_connect(plan.target, asio::as_tuple(asio::use_awaitable));
  if (connect_ec) {
    ++result.errors;
    if (result.first_error.empty()) result.first_error = "connect: " + connect_ec.message();
    co_return;
  }
  socket.set_option(tcp::no_delay(true));
  if (plan.start_delay.count() > 0) {
    asio::steady_timer delay(executor, plan.start_delay);
    co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::vector<char> request(plan.size, 'x');
  std::vector<char> reply(plan.size);
  for (long i = 0; i < plan.warmup + plan.count; ++i) {
    request[0] = static_cast<char>('a' + i % 26);
    auto start = Clock::now();
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(request), asio::as_tuple(asio::use_awaitable));
    if (!write_ec) {
      auto [read_ec, got] = co_await asio::async_read(socket, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
      write_ec = read_ec;
    }
    if (write_ec || reply[0] != request[0]) {
      ++result.errors;
      if (result.first_error.empty()) result.first_error = write_ec ? write_ec.message() : "echo mismatch";
      co_return;
    }
    if (i >= plan.warmup) {
      result.samples_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    if (plan.pace.count() > 0) {
      asio::steady_timer next(executor, start + plan.pace);
      co_await next.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
}

// One client connection; the last one to finish ends the run.
asio::awaitable<void> ping_one(PingPlan plan, PingResult& result) {
  co_await ping_loop(plan, result);
  if (--result.running == 0 && result.on_all_done) result.on_all_done();
}

int ping(const faultline::bench::Flags& flags) {
  PingPlan plan;
  plan.target = faultline::bench::parse_endpoint(flags.required("connect"));
  const long count = flags.number("count", 10000);
  const long connections = std::max<long>(1, flags.number("connections", 1));
  plan.warmup = flags.number("warmup", 200);
  plan.size = static_cast<std::size_t>(std::max<std::int64_t>(1, flags.number("size", 64)));
  const auto timeout = std::chrono::milliseconds(flags.number("timeout-ms", 120000));
  const auto stagger = std::chrono::microseconds(flags.number("stagger-us", 0));
  plan.pace = std::chrono::microseconds(flags.number("pace-us", 0));
  const std::string label = flags.text("label", flags.required("connect"));
  flags.reject_unknown();

  asio::io_context io(1);
  PingResult result;
  result.running = connections;
  for (long c = 0; c < connections; ++c) {
    PingPlan mine = plan;
    mine.count = count / connections + (c < count % connections ? 1 : 0);
    mine.start_delay = stagger * c;
    asio::co_spawn(io, ping_one(mine, result), asio::detached);
  }
  bool timed_out = false;
  asio::steady_timer guard(io, timeout);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      io.stop();
    }
  });
  result.on_all_done = [&] { guard.cancel(); };
  auto began = Clock::now();
  io.run();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - began).count();

  auto samples = result.samples_us;
  std::sort(samples.begin(), samples.end());
  using faultline::bench::percentile;
  nlohmann::json out = {
      {"label", label},
      {"connections", connections},
      {"size", plan.size},
      {"count", samples.size()},
      {"errors", result.errors},
      {"timed_out", timed_out},
      {"elapsed_s", elapsed_s},
  };
  if (!result.first_error.empty()) out["first_error"] = result.first_error;
  if (!samples.empty()) {
    const double sum = std::accumulate(samples.begin(), samples.end(), 0.0);
    out["min_us"] = samples.front();
    out["mean_us"] = sum / static_cast<double>(samples.size());
    out["p50_us"] = percentile(samples, 0.50);
    out["p90_us"] = percentile(samples, 0.90);
    out["p99_us"] = percentile(samples, 0.99);
    out["max_us"] = samples.back();
  }
  std::cout << out.dump() << std::endl;
  return (result.errors == 0 && !timed_out && static_cast<long>(samples.size()) == count) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    faultline::bench::Flags flags(argc, argv, 2);
    if (mode == "serve") return serve(flags);
    if (mode == "ping") return ping(flags);
    std::cerr << "usage: faultline-bench-rtt serve --listen HOST:PORT [--delay-us D]\n"
                 "       faultline-bench-rtt ping --connect HOST:PORT [--count N] [--warmup W] [--size B]\n"
                 "                                [--connections C] [--stagger-us S] [--pace-us P]\n"
                 "                                [--timeout-ms T] [--label L]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "faultline-bench-rtt: " << e.what() << "\n";
    return 2;
  }
}
