#pragma once
// The proxy's worker threads: one io_context per thread, handed out round
// robin to new sessions. A connection stays on the thread it was given, so its
// state needs no locks; spreading connections over threads is what lets the
// proxy use more than one core.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace faultline {

class WorkerPool {
 public:
  // `threads` worker threads; 0 makes none (sessions then stay on the caller's executor).
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  bool empty() const { return contexts_.empty(); }
  std::size_t size() const { return contexts_.size(); }
  boost::asio::any_io_executor next();
  // Lets the threads finish what is queued and joins them.
  void stop();

  // The default size: one thread per core.
  static unsigned default_threads();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace faultline
