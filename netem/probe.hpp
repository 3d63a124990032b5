#pragma once
// What this machine can do for netem/: privileges, namespaces, veth, netem,
// tbf, ifb, ingress redirect and capture, each tried for real inside a
// throwaway namespace, and for each thing it cannot do, why and what to do.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::netem {

class Journal;

struct ProbeCheck {
  std::string name;    // "cap_net_admin", "netns", "veth", "sch_netem", "sch_tbf", "ifb", "ingress_redirect", "pcap"
  bool ok = false;
  std::string detail;  // what was seen
  std::string fix;     // what to do when not ok
};

std::vector<ProbeCheck> probe(Journal& journal);
bool probe_ok(const std::vector<ProbeCheck>& checks, const std::string& name);
nlohmann::json probe_json(const std::vector<ProbeCheck>& checks);

}  // namespace faultline::netem
