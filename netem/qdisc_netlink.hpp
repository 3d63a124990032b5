#pragma once
// The netlink side of faultline's qdiscs, over libnl: netem and tbf qdiscs
// added, changed and deleted, the ingress redirect to an ifb device, and qdisc
// dumps decoded into QdiscInfo. These steps do what they are told; deciding
// what to make, refusing what faultline does not own and journaling it is the
// QdiscController's (qdisc_controller.hpp). undo_entry (journal.hpp) lives in
// this unit too.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netem/netem_spec.hpp"

namespace faultline::netem {

inline constexpr std::uint32_t kOwnedRootHandle = 0xfa170000u;   // "fa17:" — faultline's mark
inline constexpr std::uint32_t kOwnedChildHandle = 0xfa180000u;  // "fa18:" — tbf under netem
inline constexpr std::uint32_t kIngressParent = 0xfffffff1u;     // TC_H_INGRESS
inline constexpr std::uint32_t kIngressHandle = 0xffff0000u;

std::string handle_text(std::uint32_t handle);
bool is_owned_handle(std::uint32_t handle);

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

// Low-level steps, also used by the journal's cleanup and the probe.
void add_netem_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                     const NetemSpec& spec, bool change);
void add_tbf_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                   const NetemSpec& spec, bool change);
void add_ingress_redirect(const std::string& netns, const std::string& dev, const std::string& ifb);
// Deletes the qdisc at `parent` (root or ingress) if its handle is `handle` (0: any). False if absent.
bool delete_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle);
std::vector<QdiscInfo> list_qdiscs(const std::string& netns, const std::string& dev = {});
// The qdisc of a listing attached at `parent`, if any.
std::optional<QdiscInfo> find_at(const std::vector<QdiscInfo>& all, std::uint32_t parent);

}  // namespace faultline::netem
