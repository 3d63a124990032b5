#include "sim/load_driver.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace faultline::sim {

namespace {
using clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(100);  // how often an idle closed-model client looks again
}  // namespace

double LoadStats::lateness_ms(double q) const {
  if (lateness_us.empty()) return 0;
  auto sorted = lateness_us;
  std::sort(sorted.begin(), sorted.end());
  const auto i = std::min(sorted.size() - 1, static_cast<std::size_t>(std::floor(q * static_cast<double>(sorted.size()))));
  return sorted[i] / 1000.0;
}

nlohmann::json LoadStats::to_json() const {
  nlohmann::json out = {{"started", started}, {"dropped", dropped}, {"peak_busy", peak_busy}};
  if (!lateness_us.empty())
    out["start_lateness_ms"] = {{"p50", lateness_ms(0.5)}, {"p99", lateness_ms(0.99)}, {"max", lateness_ms(1.0)}};
  return out;
}

LoadDriver::LoadDriver(asio::any_io_executor ex, const Workload& workload, std::vector<WorkClient*> clients,
                       std::uint64_t seed)
    : ex_(std::move(ex)), workload_(workload), clients_(std::move(clients)) {
  rngs_.reserve(clients_.size());
  for (std::size_t i = 0; i < clients_.size(); ++i) rngs_.emplace_back(derive_seed(seed, "workload", "client", i + 1));
}

void LoadDriver::stop() {
  stopping_ = true;
  for (auto* timer : sleepers_) timer->cancel();
}

asio::awaitable<void> LoadDriver::sleep_until(clock::time_point until) {
  if (stopping_ || clock::now() >= until) co_return;
  asio::steady_timer timer(ex_, until);
  sleepers_.insert(&timer);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  sleepers_.erase(&timer);
}

asio::awaitable<void> LoadDriver::run() {
  auto self = shared_from_this();
  start_ = clock::now();
  const auto length = workload_.length();
  if (!length) {
    busy_ += clients_.size();  // counted now, so that wait_idle cannot miss a pass that has yet to begin
    stats_.peak_busy = busy_;
    for (std::size_t i = 0; i < clients_.size(); ++i) asio::co_spawn(ex_, run_once(i), asio::detached);
  } else if (workload_.load && workload_.load->open_model()) {
    co_await run_open(start_ + *length);
  } else {
    co_await run_closed(start_ + *length);
  }
  co_await wait_idle();
  std::sort(stats_.lateness_us.begin(), stats_.lateness_us.end());
}

std::uint64_t LoadDriver::working_at(clock::time_point now) const {
  if (!workload_.load) return clients_.size();
  return std::min<std::uint64_t>(clients_.size(), workload_.load->vus_at(now - start_));
}

asio::awaitable<void> LoadDriver::run_once(std::size_t index) {
  auto self = shared_from_this();
  for (const auto& step : workload_.steps) {
    if (stopping_) break;
    if (!clients_[index]->can_work()) break;
    ++stats_.started;
    co_await clients_[index]->perform(step);
  }
  --busy_;
}

asio::awaitable<void> LoadDriver::run_closed(clock::time_point end) {
  // Only as many loops as the pattern ever needs; each idles while its client is not among the working.
  const auto peak = workload_.load ? std::min<std::uint64_t>(clients_.size(), static_cast<std::uint64_t>(
                                                                                   std::ceil(workload_.load->peak())))
                                   : clients_.size();
  if (workload_.load && workload_.load->peak() > static_cast<double>(clients_.size()))
    spdlog::warn("simulate: the load pattern wants {} clients at its peak; {} are connected", workload_.load->peak(),
                 clients_.size());
  for (std::size_t i = 0; i < peak; ++i) asio::co_spawn(ex_, client_loop(i, end), asio::detached);
  co_await sleep_until(end);
}

asio::awaitable<void> LoadDriver::client_loop(std::size_t index, clock::time_point end) {
  auto self = shared_from_this();
  while (!stopping_ && clock::now() < end) {
    if (index >= working_at(clock::now()) || !clients_[index]->can_work()) {
      co_await sleep_until(std::min(end, clock::now() + kPoll));
      continue;
    }
    co_await one_step(index);
    const auto pause = workload_.think(rngs_[index]);
    if (pause.count() > 0) co_await sleep_until(std::min(end, clock::now() + pause));
  }
}

asio::awaitable<void> LoadDriver::run_open(clock::time_point end) {
  for (std::size_t i = 0; i < clients_.size(); ++i) free_.push_back(i);
  ArrivalSchedule schedule(*workload_.load);
  while (!stopping_) {
    const auto at = schedule.next();
    if (!at) break;
    const auto due = start_ + std::chrono::duration_cast<clock::duration>(*at);
    if (due >= end) break;
    co_await sleep_until(due);
    if (stopping_) break;
    const auto late = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - due).count();
    stats_.lateness_us.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(late, 0, UINT32_MAX)));
    // The free client idle longest that can work; one that cannot (reconnecting) goes to the back.
    std::optional<std::size_t> chosen;
    for (std::size_t tries = free_.size(); tries > 0 && !chosen; --tries) {
      const auto i = free_.front();
      free_.pop_front();
      if (clients_[i]->can_work()) chosen = i;
      else free_.push_back(i);
    }
    if (!chosen) {
      ++stats_.dropped;
      continue;
    }
    const auto index = *chosen;
    asio::co_spawn(ex_, [self = shared_from_this(), index]() -> asio::awaitable<void> {
      co_await self->one_step(index);
      self->free_.push_back(index);
    }, asio::detached);
  }
}

asio::awaitable<void> LoadDriver::one_step(std::size_t index) {
  ++busy_;
  ++stats_.started;
  stats_.peak_busy = std::max(stats_.peak_busy, busy_);
  const auto& step = workload_.choose(rngs_[index]);
  try {
    co_await clients_[index]->perform(step);
  } catch (const std::exception& e) {
    spdlog::error("simulate: client {}: {}: {}", index + 1, step.label(), e.what());
  }
  --busy_;
}

asio::awaitable<void> LoadDriver::wait_idle() {
  // Steps in flight end on their own time (their request timeouts bound them).
  while (busy_ > 0) {
    asio::steady_timer timer(ex_, std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace faultline::sim
