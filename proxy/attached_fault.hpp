#pragma once
// A byte fault attached to one direction of one session, whatever the link's
// protocol: the fault's stage, its random source seeded from (seed, link,
// fault, connection), its counters, the events it emits, and the waits it has
// in progress. The probability is rolled once, when the fault attaches (and
// with a count, that is the injection taken: one connection chosen).
//
// A session offers what the fault needs through FaultHost. FaultWaits is the
// part frame fault contexts share too: timers cancelled together when the
// fault goes or the session closes.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "faults/byte_chain.hpp"
#include "faults/byte_fault_spec.hpp"
#include "proxy/link_stats.hpp"

namespace faultline {

class Link;

// What an attached fault needs from its session.
class FaultHost {
 public:
  virtual ~FaultHost() = default;
  // What the fault's random source is seeded from, with the fault's name and number().
  virtual std::uint64_t run_seed() = 0;
  virtual const std::string& link_name() = 0;
  virtual std::uint64_t number() const = 0;  // the connection number
  virtual boost::asio::any_io_executor executor() = 0;
  virtual bool closing() const = 0;
  virtual std::shared_ptr<FaultCounters> fault_counters(const std::string& name, const std::string& type) = 0;
  // Emits an event about this connection; the host adds what identifies it.
  virtual void emit_fault_event(std::string kind, nlohmann::json fields) = 0;
  // A fault closes the connection (reset_peer, limit_data, timeout, ...).
  virtual void close_for_fault(CloseMode mode, std::string reason) = 0;
};

// The host side every session of a Link shares: seed, name, counters and
// events come from the link.
class LinkFaultHost : public FaultHost {
 public:
  virtual Link& link() = 0;
  std::uint64_t run_seed() override;
  const std::string& link_name() override;
  std::shared_ptr<FaultCounters> fault_counters(const std::string& name, const std::string& type) override;
  void emit_fault_event(std::string kind, nlohmann::json fields) override;
};

// Runs a fault's on_attach beside its session; what it throws is logged
// under the fault's name.
void spawn_on_attach(boost::asio::any_io_executor ex, std::string fault,
                     std::function<boost::asio::awaitable<void>()> work);

// The waits a fault has in progress.
class FaultWaits {
 public:
  // Waits until `deadline` (precisely: see precise_wait.hpp). False when cancelled.
  boost::asio::awaitable<bool> wait(boost::asio::any_io_executor ex, Clock::time_point deadline);
  void cancel_all();

 private:
  std::vector<boost::asio::steady_timer*> timers_;
};

class AttachedByteFault final : public AttachedStage, public StageContext {
 public:
  AttachedByteFault(FaultHost& host, Direction dir, std::shared_ptr<const FaultSpec> spec);

  // AttachedStage
  ByteStage& stage() override { return *stage_; }
  StageContext& context() override { return *this; }
  bool active() const override { return selected_ && !removed_; }

  // StageContext
  Clock::time_point now() const override { return Clock::now(); }
  boost::asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return dir_; }
  void injected(nlohmann::json detail) override;
  void close_connection(CloseMode mode, std::string_view reason) override;

  const FaultSpec& spec() const { return *spec_; }
  const FaultPtr& spec_ptr() const { return spec_; }
  bool selected() const { return selected_; }
  // On close: cut the waits short.
  void cancel_waits() { waits_.cancel_all(); }
  // The fault was removed: it stops acting, and what it holds moves on.
  void remove() {
    removed_ = true;
    waits_.cancel_all();
  }
  // Runs the stage's on_attach (for faults that act on time) when the fault
  // was selected; `session` keeps the host alive meanwhile.
  static void start(const std::shared_ptr<AttachedByteFault>& fault, std::shared_ptr<void> session);

 private:
  FaultHost& host_;
  Direction dir_;
  std::shared_ptr<const FaultSpec> spec_;
  std::unique_ptr<ByteStage> stage_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  bool selected_ = false;
  bool removed_ = false;
  FaultWaits waits_;
};

}  // namespace faultline
