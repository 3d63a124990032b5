#pragma once
// Test topologies: hosts are network namespaces joined by veth pairs, a client
// and a server, optionally with a router between them. Everything is named
// "fl-NAME-..." and journaled as kept (it outlives the command that made it)
// until `topology down` or `netem clear`.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netem/qdisc_controller.hpp"

namespace faultline::netem {

class Journal;

struct TopologyOptions {
  std::string name;          // 1..8 of [a-z0-9]
  bool router = false;
  std::string subnet_prefix = "10.213";  // the first two octets of the addresses used
};

struct HostInfo {
  std::string role;     // "client", "server", "router"
  std::string netns;
  std::vector<std::string> devs;
  std::vector<std::string> addresses;  // CIDR
};

struct TopologyInfo {
  std::string name;
  bool router = false;
  std::vector<HostInfo> hosts;
  nlohmann::json to_json() const;
};

void check_topology_name(const std::string& name);

// The layout of a topology (names and addresses); nothing is created.
TopologyInfo topology_layout(const TopologyOptions& options);

// Creates the namespaces, links, addresses and routes. Rolls back on failure.
TopologyInfo topology_up(Journal& journal, const TopologyOptions& options);
// Removes everything the topology made; false if there was nothing.
bool topology_down(Journal& journal, const std::string& name);
bool topology_exists(const std::string& name);

// The namespace of a host ("client", "server", "router") of a topology.
std::string topology_host_netns(const std::string& name, const std::string& role);

// The qdisc targets for a direction of the client<->server link:
// "upstream" (client -> server), "downstream" (server -> client) or "both".
std::vector<Target> topology_targets(const std::string& name, const std::string& direction);

}  // namespace faultline::netem
