#pragma once
// Runs frame faults against a fake context: a fake clock that jumps to each
// deadline a stage waits for, a sink that records when each frame would have
// left, and records of replies, signals and closed outputs. No pipes, no sleeping.

#include <csignal>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include "faults/frame_chain.hpp"
#include "faults/frame_fault_spec.hpp"

namespace faultline::test {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct Delivered {
  Clock::time_point at;
  std::string raw;
  bool emitted = false;  // written by a fault past the chain
};

class FrameHarness;

class FakeFrameContext final : public FrameStageContext, public AttachedFrameStage {
 public:
  FakeFrameContext(FrameHarness& h, FrameFaultSpec spec, std::uint64_t seed)
      : h_(h), spec_(std::move(spec)), stage_(spec_.fault->instantiate()), rng_(seed) {}

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  bool select(const WireFrame& f) override {
    return spec_.match.matches(f) && roll_fault(rng_, spec_.probability, nullptr).applied;
  }
  bool select_unmatched() override { return roll_fault(rng_, spec_.probability, nullptr).applied; }
  bool active() const override { return true; }

  // FrameStageContext
  Clock::time_point now() const override;
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return false; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_.direction; }
  void injected(json detail) override {
    ++injections;
    if (!detail.is_null()) details.push_back(detail);
  }
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int signo) override;
  void close_output(std::string_view reason) override;

  int injections = 0;
  std::vector<json> details;

 private:
  FrameHarness& h_;
  FrameFaultSpec spec_;
  std::unique_ptr<FrameStage> stage_;
  Rng rng_;
};

class FrameHarness final : public FrameSink {
 public:
  // Faults in the command line's text form, in chain order.
  explicit FrameHarness(std::vector<std::string> faults, std::uint64_t seed = 5) {
    std::vector<std::shared_ptr<AttachedFrameStage>> stages;
    for (const auto& text : faults) {
      auto ctx = std::make_shared<FakeFrameContext>(*this, parse_frame_fault_text(text), seed++);
      contexts.push_back(ctx);
      stages.push_back(ctx);
    }
    chain = std::make_shared<FrameChain>(std::move(stages), *this);
  }

  // A frame arriving now (relative ms) as a line; `method` for replies.
  void add(std::string line, std::int64_t at_ms = 0, std::string method = "") {
    std::vector<mcp::Frame> frames;
    mcp::decode_json_text(line, 0, frames);
    REQUIRE(frames.size() == 1);
    WireFrame wf;
    wf.frame = std::move(frames[0]);
    wf.frame.line_end = mcp::LineEnd::lf;
    wf.arrival = epoch + std::chrono::milliseconds(at_ms);
    wf.method = method.empty() ? wf.frame.method : method;
    input.push_back(std::move(wf));
  }

  // Passes every input frame through the chain (then the end, if asked) and runs to completion.
  void run(bool with_end = true) {
    asio::co_spawn(io, [this, with_end]() -> asio::awaitable<void> {
      for (auto& f : input) {
        if (f.arrival > clock) clock = f.arrival;
        co_await chain->frame(0, std::move(f));
      }
      input.clear();
      if (with_end) co_await chain->end(0);
    }, asio::detached);
    io.run();
    io.restart();
  }

  // Runs the faults' on_attach (time-triggered faults).
  void attach() {
    for (auto& c : contexts)
      asio::co_spawn(io, [c]() -> asio::awaitable<void> { co_await c->stage().on_attach(*c); }, asio::detached);
    io.run();
    io.restart();
  }

  asio::awaitable<void> write(WireFrame frame) override {
    out.push_back({clock, frame.frame.raw, false});
    co_return;
  }
  asio::awaitable<void> end() override {
    ended = true;
    co_return;
  }

  std::vector<std::string> raws() const {
    std::vector<std::string> r;
    for (const auto& d : out) r.push_back(d.raw);
    return r;
  }
  FakeFrameContext& fault(std::size_t i = 0) { return *contexts.at(i); }

  asio::io_context io;
  const Clock::time_point epoch = Clock::time_point{} + 1000s;
  Clock::time_point clock = epoch;
  std::vector<WireFrame> input;
  std::vector<Delivered> out;
  std::vector<WireFrame> replies;
  std::vector<int> signals;
  std::vector<std::string> closed;
  bool ended = false;
  std::vector<std::shared_ptr<FakeFrameContext>> contexts;
  std::shared_ptr<FrameChain> chain;
};

inline Clock::time_point FakeFrameContext::now() const { return h_.clock; }
inline asio::awaitable<bool> FakeFrameContext::wait_until(Clock::time_point deadline) {
  if (deadline > h_.clock) h_.clock = deadline;
  co_return true;
}
inline asio::awaitable<void> FakeFrameContext::emit(WireFrame frame) {
  h_.out.push_back({h_.clock, frame.frame.raw, true});
  co_return;
}
inline asio::awaitable<void> FakeFrameContext::reply(WireFrame frame) {
  h_.replies.push_back(std::move(frame));
  co_return;
}
inline void FakeFrameContext::spawn(std::function<asio::awaitable<void>()> task) {
  // Deferred, as a real spawn with a real timer would be: the pump goes on first.
  asio::post(h_.io, [this, task = std::move(task)]() mutable { asio::co_spawn(h_.io, std::move(task), asio::detached); });
}
inline bool FakeFrameContext::signal_server(int signo) {
  h_.signals.push_back(signo);
  return true;
}
inline void FakeFrameContext::close_output(std::string_view reason) { h_.closed.emplace_back(reason); }

inline std::string request(int id, const std::string& method) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}}.dump();
}
inline std::string response(int id) { return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", json::object()}}.dump(); }
inline std::string notification(const std::string& method) {
  return json{{"jsonrpc", "2.0"}, {"method", method}}.dump();
}

}  // namespace faultline::test
