// faultline-bench-idle: many concurrent idle connections through a proxy.
//   serve --listen 127.0.0.1:P          upstream that accepts, holds and echoes (lazy buffers)
//   hold  --connect 127.0.0.1:P --count N [--parallel K] [--hold-ms T] [--verify M]
//         [--watch-pid PID] [--timeout-ms T]
// `hold` opens N connections (K connects in flight), keeps them idle for T ms, then checks
// M of them (evenly spread; all by default) still carry data with a 1-byte echo, and prints
// one JSON line. With --watch-pid it reads that process's VmRSS/VmHWM before connecting,
// while the connections sit idle, after the check, and after closing them all.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
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
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

int serve(const faultline::bench::Flags& flags) {
  auto endpoint = faultline::bench::parse_endpoint(flags.required("listen"));
  flags.reject_unknown();
  const auto limit = faultline::bench::raise_nofile(1 << 20);
  asio::io_context io(1);
  faultline::bench::start_echo_server(io, endpoint, 256, true);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { io.stop(); });
  std::cerr << "faultline-bench-idle: holding on " << flags.required("listen") << " (open-file limit " << limit
            << ")\n";
  io.run();
  return 0;
}

struct HoldState {
  tcp::endpoint target;
  std::vector<std::optional<tcp::socket>> sockets;
  std::size_t next = 0;
  long connect_failed = 0;
  std::string first_error;
  std::chrono::milliseconds op_timeout{5000};

  void note(const std::string& what) {
    if (first_error.empty()) first_error = what;
  }
};

// Connects sockets[next++] until every slot has had its turn.
asio::awaitable<void> connect_worker(HoldState& state) {
  auto executor = co_await asio::this_coro::executor;
  while (state.next < state.sockets.size()) {
    const std::size_t slot = state.next++;
    tcp::socket socket(executor);
    asio::steady_timer timer(executor, state.op_timeout);
    auto result = co_await (socket.async_connect(state.target, kTuple) || timer.async_wait(kTuple));
    if (result.index() == 1) {
      ++state.connect_failed;
      state.note("connect timed out");
      continue;
    }
    auto [ec] = std::get<0>(result);
    if (ec) {
      ++state.connect_failed;
      state.note("connect: " + ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    state.sockets[slot].emplace(std::move(socket));
  }
}

struct VerifyState {
  std::vector<std::size_t> slots;
  std::size_t next = 0;
  long ok = 0;
  long failed = 0;
  std::string first_error;
};

// Sends one byte on each chosen connection and waits for it to come back.
asio::awaitable<void> verify_worker(HoldState& hold, VerifyState& state) {
  auto executor = co_await asio::this_coro::executor;
  while (state.next < state.slots.size()) {
    auto& maybe = hold.sockets[state.slots[state.next++]];
    if (!maybe) continue;
    auto& socket = *maybe;
    char out = 'v';
    char in = 0;
    asio::steady_timer timer(executor, hold.op_timeout);
    auto exchange = [&]() -> asio::awaitable<boost::system::error_code> {
      auto [write_ec, w] = co_await asio::async_write(socket, asio::buffer(&out, 1), kTuple);
      if (write_ec) co_return write_ec;
      auto [read_ec, r] = co_await asio::async_read(socket, asio::buffer(&in, 1), kTuple);
      co_return read_ec;
    };
    auto result = co_await (exchange() || timer.async_wait(kTuple));
    std::string error;
    if (result.index() == 1) {
      error = "echo timed out";
    } else if (auto ec = std::get<0>(result)) {
      error = "echo: " + ec.message();
    } else if (in != out) {
      error = "echo returned a different byte";
    }
    if (error.empty()) {
      ++state.ok;
    } else {
      ++state.failed;
      if (state.first_error.empty()) state.first_error = error;
    }
  }
}

nlohmann::json memory_json(long pid) {
  auto mem = faultline::bench::read_process_memory(pid);
  return {{"rss_kib", mem.rss_kib}, {"hwm_kib", mem.hwm_kib}};
}

int hold(const faultline::bench::Flags& flags) {
  HoldState state;
  state.target = faultline::bench::parse_endpoint(flags.required("connect"));
  const long count = flags.number("count", 10000);
  const long parallel = std::max<long>(1, flags.number("parallel", 128));
  const auto hold_for = std::chrono::milliseconds(flags.number("hold-ms", 2000));
  const long verify = flags.number("verify", count);
  const long watch_pid = flags.number("watch-pid", 0);
  state.op_timeout = std::chrono::milliseconds(flags.number("timeout-ms", 10000));
  flags.reject_unknown();

  const auto limit = faultline::bench::raise_nofile(static_cast<std::uint64_t>(count) + 256);
  nlohmann::json out = {{"target", flags.required("connect")}, {"requested", count}, {"nofile_limit", limit}};
  if (watch_pid > 0) out["memory_before"] = memory_json(watch_pid);

  asio::io_context io(1);
  state.sockets.resize(static_cast<std::size_t>(count));
  auto began = Clock::now();
  for (long i = 0; i < parallel; ++i) asio::co_spawn(io, connect_worker(state), asio::detached);
  io.run();
  io.restart();
  const double connect_s = std::chrono::duration<double>(Clock::now() - began).count();
  long connected = 0;
  for (const auto& s : state.sockets) connected += s ? 1 : 0;
  out["connected"] = connected;
  out["connect_failed"] = state.connect_failed;
  out["connect_s"] = connect_s;
  if (!state.first_error.empty()) out["first_connect_error"] = state.first_error;

  std::this_thread::sleep_for(hold_for);
  if (watch_pid > 0) out["memory_idle"] = memory_json(watch_pid);

  VerifyState check;
  const long to_check = std::clamp<long>(verify, 0, count);
  for (long i = 0; i < to_check; ++i) {
    check.slots.push_back(static_cast<std::size_t>(i * count / std::max<long>(1, to_check)));
  }
  for (long i = 0; i < parallel; ++i) asio::co_spawn(io, verify_worker(state, check), asio::detached);
  io.run();
  io.restart();
  out["verify_requested"] = to_check;
  out["verify_ok"] = check.ok;
  out["verify_failed"] = check.failed;
  if (!check.first_error.empty()) out["first_verify_error"] = check.first_error;
  if (watch_pid > 0) out["memory_after_verify"] = memory_json(watch_pid);

  for (auto& s : state.sockets) s.reset();
  if (watch_pid > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    out["memory_after_close"] = memory_json(watch_pid);
  }
  std::cout << out.dump() << std::endl;
  return (connected == count && check.failed == 0) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    faultline::bench::Flags flags(argc, argv, 2);
    if (mode == "serve") return serve(flags);
    if (mode == "hold") return hold(flags);
    std::cerr << "usage: faultline-bench-idle serve --listen HOST:PORT\n"
                 "       faultline-bench-idle hold --connect HOST:PORT [--count N] [--parallel K] [--hold-ms T]\n"
                 "                                 [--verify M] [--watch-pid PID] [--timeout-ms T]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "faultline-bench-idle: " << e.what() << "\n";
    return 2;
  }
}
