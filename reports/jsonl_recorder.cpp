#include "reports/jsonl_recorder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "core/errors.hpp"

namespace faultline {

JsonlRecorder::JsonlRecorder(const std::string& path, Mode mode) : path_(path) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  if (mode == Mode::append) flags |= O_APPEND;
  if (mode == Mode::replace) flags |= O_TRUNC;
  if (mode == Mode::create) flags |= O_EXCL;
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0 && errno == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
      throw ConfigError(path, "exists and holds " + std::to_string(st.st_size) + " bytes of history");
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  }
  if (fd_ < 0) throw StartupError("events file " + path + ": " + std::strerror(errno));
  // The writer takes no signals: they belong to the thread that waits for them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  writer_ = std::thread([this] { write_loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

JsonlRecorder::~JsonlRecorder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  writer_.join();  // it leaves only when nothing is pending
  ::close(fd_);
}

void JsonlRecorder::record(const Event& event) {
  bool wake = false;
  {
    // Formatted straight into the batch: the writer holds this lock only to take a batch.
    std::lock_guard lock(mutex_);
    event.append_jsonl(pending_);
    ++recorded_;
    wake = writer_waiting_;  // a busy writer comes back for this batch by itself
    writer_waiting_ = false;
  }
  if (wake) work_.notify_one();
}

void JsonlRecorder::write_loop() {
  std::string batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (pending_.empty()) {
      if (stopping_) return;
      writer_waiting_ = true;
      work_.wait(lock, [this] { return !pending_.empty() || stopping_; });
      writer_waiting_ = false;
      continue;
    }
    batch.swap(pending_);
    const auto lines = recorded_;
    const bool failed = !error_.empty();  // after a failed write the file stays as it was: no gaps
    lock.unlock();
    std::size_t done = failed ? batch.size() : 0;
    std::string failure;
    while (done < batch.size()) {
      const auto n = ::write(fd_, batch.data() + done, batch.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failure = n < 0 ? std::strerror(errno) : "nothing written";
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    batch.clear();
    if (batch.capacity() > (1u << 20)) batch.shrink_to_fit();  // a burst's buffer is not kept
    lock.lock();
    if (!failure.empty() && error_.empty()) {
      error_ = failure;
      spdlog::error("events file {}: {}; later events are not recorded", path_, failure);
    }
    written_ = lines;
    batch_done_.notify_all();
  }
}

void JsonlRecorder::flush() {
  std::unique_lock lock(mutex_);
  const auto target = recorded_;
  batch_done_.wait(lock, [&] { return written_ >= target; });
}

std::size_t JsonlRecorder::lines() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

std::string JsonlRecorder::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void JsonlRecorder::attach(EventLog& log) {
  log.add_sink([this](const Event& e) { record(e); });
}

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "cannot open file");
  std::vector<Event> events;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object())
      throw ConfigError(path + ":" + std::to_string(number), "not a JSON object");
    events.push_back(Event::from_json(json));
  }
  return events;
}

}  // namespace faultline
