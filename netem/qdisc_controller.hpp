#pragma once
// The qdisc controller: applies, changes, clears and shows faultline's qdiscs
// on one interface in one namespace, over netlink. A fault is a netem qdisc at
// the root (handle fa17:), with a tbf child (fa18:) when bandwidth is capped, or
// a lone tbf at fa17:. Ingress faults go through an ifb device. Everything is
// journaled before it is made and rolled back if any step fails.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netem/journal.hpp"
#include "netem/netem_spec.hpp"

namespace faultline {
class EventLog;
}

namespace faultline::netem {

inline constexpr std::uint32_t kOwnedRootHandle = 0xfa170000u;   // "fa17:" — faultline's mark
inline constexpr std::uint32_t kOwnedChildHandle = 0xfa180000u;  // "fa18:" — tbf under netem
inline constexpr const char* kNamePrefix = "fl-";                // namespaces and devices faultline makes

std::string handle_text(std::uint32_t handle);
bool is_owned_handle(std::uint32_t handle);

// Where a fault goes.
struct Target {
  std::string netns;      // "" = the namespace faultline runs in
  std::string dev;
  bool ingress = false;   // shape what arrives on dev (through an ifb device)
  bool force = false;     // allow the interface that carries the default route
  std::string label;      // the link name for events ("net:LABEL"); defaults to dev
};

struct QdiscInfo {
  std::string dev;
  std::uint32_t handle = 0;
  std::uint32_t parent = 0;
  std::string kind;
  bool owned = false;
  nlohmann::json options = nlohmann::json::object();  // decoded netem/tbf parameters

  nlohmann::json to_json() const;
  std::string describe() const;  // one line, tc style
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

// Low-level steps, also used by the journal's cleanup and the probe.
void add_netem_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                     const NetemSpec& spec, bool change);
void add_tbf_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                   const NetemSpec& spec, bool change);
void add_ingress_redirect(const std::string& netns, const std::string& dev, const std::string& ifb);
// Deletes the qdisc at `parent` (root or ingress) if its handle is `handle` (0: any). False if absent.
bool delete_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle);
std::vector<QdiscInfo> list_qdiscs(const std::string& netns, const std::string& dev = {});

}  // namespace faultline::netem
