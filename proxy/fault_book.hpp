#pragma once
// The faults of one link with their schedules (faults/fault_schedule.hpp):
// which are configured, which act now, and when each starts and ends. A fault
// with `after` waits before it starts acting; `for` ends it that long after it
// started; `count` ends it when its budget is spent. Every start and end is an
// event, and fault.end says why: removed, for_elapsed, count_reached or
// link_gone.
//
// What starting and stopping mean for the link's sessions is the link's
// business (the hooks). A fault that ends by `for` or by removal is taken off
// the sessions at once (what it holds moves on); one whose count is spent
// stays on them, unable to act again, so what it already does (a held
// message, a connection it was chosen for) finishes as it would have.
//
// Lives on the link's executor; a budget may be spent on any thread (the end
// is posted here).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "faults/byte_fault_spec.hpp"

namespace faultline {

class FaultBook {
 public:
  struct Hooks {
    std::function<void(const FaultPtr&)> start;  // it acts from now on: attach it to the open sessions
    std::function<void(const FaultPtr&)> stop;   // it acts no more: take it off them
    std::function<void(const FaultPtr& before, const FaultPtr& after)> change;  // an acting fault changed
    std::function<void(std::string kind, nlohmann::json fields)> emit;
  };

  FaultBook(boost::asio::any_io_executor ex, Hooks hooks) : ex_(std::move(ex)), hooks_(std::move(hooks)) {}
  ~FaultBook();
  FaultBook(const FaultBook&) = delete;
  FaultBook& operator=(const FaultBook&) = delete;

  // Every fault configured, in the order added, those still waiting included.
  const std::vector<FaultPtr>& all() const { return all_; }
  // Those acting now: what a new session starts with.
  std::vector<FaultPtr> acting() const;
  FaultPtr find(const std::string& name) const;

  void add(FaultPtr spec);
  // An update: keeps the fault's place and what its schedule has used (the
  // waits are measured from when it was added or started, as before).
  void replace(const std::string& name, FaultPtr spec);
  void remove(const std::string& name);
  // The link is gone: every fault ends (link_gone) and stays listed; the
  // sessions are closing, so nothing is taken off them.
  void end_all();

 private:
  struct Entry {
    FaultPtr spec;
    Clock::time_point added;
    Clock::time_point started;
    bool acting = false;
    bool ended = false;
    std::unique_ptr<boost::asio::steady_timer> timer;  // `after`, then `for`
  };
  using EntryPtr = std::shared_ptr<Entry>;

  EntryPtr entry(const std::string& name) const;
  void arm(const EntryPtr& e);
  void start(const EntryPtr& e);
  void end(const EntryPtr& e, const char* reason, bool take_off);
  // `again`: also when another link watched it (a fault put back on a new link).
  void watch_budget(const EntryPtr& e, bool again = false);
  nlohmann::json describe(const Entry& e) const;

  boost::asio::any_io_executor ex_;
  Hooks hooks_;
  std::vector<EntryPtr> entries_;
  std::vector<FaultPtr> all_;  // entries_' specs, for all()
};

}  // namespace faultline
