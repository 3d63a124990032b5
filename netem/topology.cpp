#include "netem/topology.hpp"

#include "core/errors.hpp"
#include "netem/journal.hpp"
#include "netem/links.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

namespace {

std::string ns_name(const std::string& name, const std::string& role) { return "fl-" + name + "-" + role; }

}  // namespace

nlohmann::json TopologyInfo::to_json() const {
  nlohmann::json hosts_json = nlohmann::json::array();
  for (const auto& h : hosts)
    hosts_json.push_back({{"role", h.role}, {"netns", h.netns}, {"devs", h.devs}, {"addresses", h.addresses}});
  return {{"name", name}, {"router", router}, {"hosts", hosts_json}};
}

void check_topology_name(const std::string& name) {
  if (name.empty() || name.size() > 8)
    throw ConfigError("topology '" + name + "'", "a topology name is 1 to 8 characters");
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      throw ConfigError("topology '" + name + "'", "a topology name may hold only a-z and 0-9");
}

std::string topology_host_netns(const std::string& name, const std::string& role) {
  check_topology_name(name);
  if (role != "client" && role != "server" && role != "router")
    throw ConfigError("host '" + role + "'", "not a host of a topology (client, server or router)");
  return ns_name(name, role);
}

TopologyInfo topology_layout(const TopologyOptions& options) {
  check_topology_name(options.name);
  const std::string& n = options.name;
  const std::string& p = options.subnet_prefix;
  TopologyInfo info{n, options.router, {}};
  if (!options.router) {
    info.hosts.push_back({"client", ns_name(n, "client"), {"fl-" + n + "-c"}, {p + ".0.1/24"}});
    info.hosts.push_back({"server", ns_name(n, "server"), {"fl-" + n + "-s"}, {p + ".0.2/24"}});
  } else {
    info.hosts.push_back({"client", ns_name(n, "client"), {"fl-" + n + "-c"}, {p + ".1.1/24"}});
    info.hosts.push_back(
        {"router", ns_name(n, "router"), {"fl-" + n + "-rc", "fl-" + n + "-rs"}, {p + ".1.254/24", p + ".2.254/24"}});
    info.hosts.push_back({"server", ns_name(n, "server"), {"fl-" + n + "-s"}, {p + ".2.1/24"}});
  }
  return info;
}

bool topology_exists(const std::string& name) {
  check_topology_name(name);
  return netns_exists(ns_name(name, "client")) || netns_exists(ns_name(name, "server")) ||
         netns_exists(ns_name(name, "router"));
}

TopologyInfo topology_up(Journal& journal, const TopologyOptions& options) {
  TopologyInfo info = topology_layout(options);
  if (topology_exists(options.name))
    throw ConfigError("topology '" + options.name + "'", "exists already (`faultline netem topology down " +
                                                            options.name + "` removes it)");
  std::vector<std::string> ids;
  try {
    for (const auto& host : info.hosts) {
      JournalEntry e{.kind = "netns", .netns = host.netns, .label = options.name, .topology = options.name};
      Journal::set_owner(e, true);
      ids.push_back(journal.add(e));
      create_netns(host.netns);
    }
    auto host = [&](const std::string& role) -> const HostInfo& {
      for (const auto& h : info.hosts)
        if (h.role == role) return h;
      throw std::logic_error("no host " + role);
    };
    const auto& client = host("client");
    const auto& server = host("server");
    if (!options.router) {
      create_veth(client.netns, client.devs[0], server.netns, server.devs[0]);
    } else {
      const auto& router = host("router");
      create_veth(client.netns, client.devs[0], router.netns, router.devs[0]);
      create_veth(router.netns, router.devs[1], server.netns, server.devs[0]);
    }
    for (const auto& h : info.hosts)
      for (std::size_t i = 0; i < h.devs.size(); ++i) {
        add_address(h.netns, h.devs[i], h.addresses[i]);
        set_link_up(h.netns, h.devs[i]);
      }
    if (options.router) {
      const auto& router = host("router");
      write_sysctl(router.netns, "net/ipv4/ip_forward", "1");
      auto gateway = [](const std::string& cidr) { return cidr.substr(0, cidr.find('/')); };
      add_default_route(client.netns, gateway(router.addresses[0]));
      add_default_route(server.netns, gateway(router.addresses[1]));
    }
  } catch (...) {
    journal.undo_where([&](const JournalEntry& e) {
      for (const auto& id : ids)
        if (id == e.id) return true;
      return false;
    });
    throw;
  }
  return info;
}

bool topology_down(Journal& journal, const std::string& name) {
  check_topology_name(name);
  std::vector<std::string> namespaces;
  for (const char* role : {"client", "router", "server"}) namespaces.push_back(ns_name(name, role));
  // Everything journaled inside the topology's namespaces, then the namespaces themselves.
  const auto undone = journal.undo_where([&](const JournalEntry& e) {
    if (e.topology == name) return true;
    for (const auto& ns : namespaces)
      if (e.netns == ns) return true;
    return false;
  });
  bool removed = !undone.empty();
  for (const auto& ns : namespaces) removed = delete_netns(ns) || removed;  // unjournaled leftovers too
  return removed;
}

std::vector<Target> topology_targets(const std::string& name, const std::string& direction) {
  check_topology_name(name);
  if (!topology_exists(name)) throw ConfigError("topology '" + name + "'", "does not exist (`faultline netem topology up " + name + "`)");
  const bool router = netns_exists(ns_name(name, "router"));
  // Shaping is on the sending side's egress: upstream leaves the client (or the
  // router towards the server), downstream leaves the server (or the router towards the client).
  Target up{router ? ns_name(name, "router") : ns_name(name, "client"), router ? "fl-" + name + "-rs" : "fl-" + name + "-c"};
  Target down{router ? ns_name(name, "router") : ns_name(name, "server"), router ? "fl-" + name + "-rc" : "fl-" + name + "-s"};
  up.label = name + ":upstream";
  down.label = name + ":downstream";
  if (direction == "upstream") return {up};
  if (direction == "downstream") return {down};
  if (direction == "both") return {up, down};
  throw ConfigError("direction '" + direction + "'", "not one of upstream (client->server), downstream (server->client), both");
}

}  // namespace faultline::netem
