#include "proxy/worker_pool.hpp"

#include <sys/prctl.h>

#include <spdlog/spdlog.h>

namespace faultline {

WorkerPool::WorkerPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
  for (auto& context : contexts_) {
    threads_.emplace_back([io = context.get()] {
      ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // timers (latency faults) wake on time
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("worker thread: {}", e.what());  // a session's handler threw: keep serving the others
        }
      }
    });
  }
}

WorkerPool::~WorkerPool() { stop(); }

boost::asio::any_io_executor WorkerPool::next() {
  return contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]->get_executor();
}

void WorkerPool::stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

unsigned WorkerPool::default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace faultline
