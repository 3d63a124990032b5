#include "netem/probe.hpp"

#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "netem/capture.hpp"
#include "netem/journal.hpp"
#include "netem/links.hpp"
#include "netem/netns.hpp"
#include "netem/qdisc_netlink.hpp"

namespace faultline::netem {

namespace {

bool has_capability(int bit) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
    return (caps >> bit) & 1ull;
  }
  return false;
}

ProbeCheck attempt(const std::string& name, const std::string& fix, const std::function<std::string()>& body) {
  ProbeCheck c{name, false, "", fix};
  try {
    c.detail = body();
    c.ok = true;
    c.fix.clear();
  } catch (const std::exception& e) {
    c.detail = e.what();
  }
  return c;
}

}  // namespace

bool probe_ok(const std::vector<ProbeCheck>& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.name == name) return c.ok;
  return false;
}

nlohmann::json probe_json(const std::vector<ProbeCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checks) out.push_back({{"check", c.name}, {"ok", c.ok}, {"detail", c.detail}, {"fix", c.fix}});
  return out;
}

std::vector<ProbeCheck> probe(Journal& journal) {
  std::vector<ProbeCheck> checks;
  constexpr int kCapNetAdmin = 12, kCapSysAdmin = 21;
  const bool net_admin = has_capability(kCapNetAdmin);
  checks.push_back({"cap_net_admin", net_admin, net_admin ? "CAP_NET_ADMIN held" : "CAP_NET_ADMIN missing",
                    net_admin ? "" : "run as root, or grant CAP_NET_ADMIN and CAP_SYS_ADMIN (setcap or a privileged container)"});
  const bool sys_admin = has_capability(kCapSysAdmin);
  checks.push_back({"cap_sys_admin", sys_admin, sys_admin ? "CAP_SYS_ADMIN held" : "CAP_SYS_ADMIN missing",
                    sys_admin ? "" : "namespaces need CAP_SYS_ADMIN: run as root or in a privileged container"});

  const std::string ns = "fl-probe-" + std::to_string(getpid());
  JournalEntry entry{.kind = "netns", .netns = ns, .label = "probe"};
  Journal::set_owner(entry, false);
  std::string id;
  auto netns_check = attempt("netns", "the kernel needs CONFIG_NET_NS, and faultline needs root", [&] {
    id = journal.add(entry);
    create_netns(ns);
    return "created and entered a network namespace";
  });
  checks.push_back(netns_check);
  if (netns_check.ok) {
    auto veth = attempt("veth", "load the veth module (modprobe veth) or use a kernel with CONFIG_VETH", [&] {
      create_veth(ns, "fl-pa", ns, "fl-pb");
      set_link_up(ns, "fl-pa");
      set_link_up(ns, "fl-pb");
      return "created a veth pair";
    });
    checks.push_back(veth);
    const std::string dev = veth.ok ? "fl-pa" : "lo";
    NetemSpec delay = parse_netem_spec({"delay", "1ms"});
    checks.push_back(attempt("sch_netem",
                             "the kernel lacks sch_netem: load it (modprobe sch_netem; Debian's linux-image has it "
                             "as a module), or run faultline in a VM with such a kernel (tests/netem/vm)",
                             [&] {
                               add_netem_qdisc(ns, dev, 0xffffffffu, kOwnedRootHandle, delay, false);
                               delete_qdisc(ns, dev, 0xffffffffu, 0);
                               return "added and removed a netem qdisc";
                             }));
    NetemSpec bw = parse_netem_spec({"bandwidth", "1mbit"});
    checks.push_back(attempt("sch_tbf", "load sch_tbf (modprobe sch_tbf)", [&] {
      add_tbf_qdisc(ns, dev, 0xffffffffu, kOwnedRootHandle, bw, false);
      delete_qdisc(ns, dev, 0xffffffffu, 0);
      return "added and removed a tbf qdisc";
    }));
    auto ifb = attempt("ifb", "load the ifb module (modprobe ifb numifbs=0); ingress shaping needs it", [&] {
      create_ifb(ns, "fl-pifb");
      return "created an ifb device";
    });
    checks.push_back(ifb);
    if (ifb.ok)
      checks.push_back(attempt("ingress_redirect", "load sch_ingress, cls_u32 and act_mirred", [&] {
        add_ingress_redirect(ns, dev, "fl-pifb");
        return "redirected ingress to an ifb with u32 + mirred";
      }));
    checks.push_back(attempt("pcap", "libpcap needs CAP_NET_RAW and AF_PACKET sockets", [&] {
      Capture capture({.netns = ns, .dev = "lo", .file = "/dev/null", .filter = "tcp"});
      capture.stop();
      return "opened a capture on lo";
    }));
  }
  if (!id.empty()) journal.undo_where([&](const JournalEntry& e) { return e.id == id; });
  return checks;
}

}  // namespace faultline::netem
