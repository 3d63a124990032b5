#pragma once
// The qdisc controller: applies, changes, clears and shows faultline's qdiscs
// on one interface in one namespace, over netlink. A fault is a netem qdisc at
// the root (handle fa17:), with a tbf child (fa18:) when bandwidth is capped, or
// a lone tbf at fa17:. Ingress faults go through an ifb device. Everything is
// journaled before it is made and rolled back if any step fails. The steps
// themselves, the netlink requests, are qdisc_netlink.hpp's.

#include <string>
#include <vector>

#include "netem/journal.hpp"
#include "netem/netem_spec.hpp"
#include "netem/qdisc_netlink.hpp"

namespace faultline {
class EventLog;
}

namespace faultline::netem {

inline constexpr const char* kNamePrefix = "fl-";  // namespaces and devices faultline makes

// Where a fault goes.
struct Target {
  std::string netns;      // "" = the namespace faultline runs in
  std::string dev;
  bool ingress = false;   // shape what arrives on dev (through an ifb device)
  bool force = false;     // allow the interface that carries the default route
  std::string label;      // the link name for events ("net:LABEL"); defaults to dev
};

class QdiscController {
 public:
  // `persistent`: what apply makes is kept after this process exits (until `clear`).
  explicit QdiscController(Journal& journal, EventLog* events = nullptr, bool persistent = false);

  void apply(const Target& target, const NetemSpec& spec);
  void change(const Target& target, const NetemSpec& spec);
  // Removes faultline's qdiscs (and ifb) from the target; false if there were none.
  bool clear(const Target& target);
  // Every qdisc on `dev` (or on every interface when dev is empty) in `netns`.
  std::vector<QdiscInfo> show(const std::string& netns, const std::string& dev = {});

 private:
  void check_target(const Target& target);
  std::string shaped_dev(const Target& target, int ifindex) const;

  Journal& journal_;
  EventLog* events_;
  bool persistent_;
};

}  // namespace faultline::netem
