#include "netem/links.hpp"

#include <net/if.h>

#include <fstream>
#include <memory>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "core/errors.hpp"
#include "netem/netlink.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

namespace {

struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;

LinkPtr get_link(NlSocket& sock, const std::string& dev) {
  rtnl_link* link = nullptr;
  const int err = rtnl_link_get_kernel(sock.get(), 0, dev.c_str(), &link);
  if (err < 0) {
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
      throw ConfigError(describe_dev(sock.netns(), dev), "no such interface");
    throw StartupError(describe_dev(sock.netns(), dev) + ": " + nl_error_text(err));
  }
  return LinkPtr(link);
}

[[noreturn]] void fail(const std::string& what, int err) {
  if (err == -NLE_PERM) throw StartupError(what + ": operation not permitted (needs CAP_NET_ADMIN: run as root)");
  throw StartupError(what + ": " + nl_error_text(err));
}

AddrPtr parse_addr(const std::string& text, int family, const std::string& where) {
  nl_addr* addr = nullptr;
  if (nl_addr_parse(text.c_str(), family, &addr) < 0 || !addr)
    throw ConfigError(where, "'" + text + "' is not an IP address");
  return AddrPtr(addr);
}

}  // namespace

void check_dev_name(const std::string& dev) {
  if (dev.empty()) throw ConfigError("dev", "an interface name is empty");
  if (dev.size() >= IFNAMSIZ)
    throw ConfigError("interface '" + dev + "'", "name is longer than 15 characters");
  for (char c : dev)
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '%')
      throw ConfigError("interface '" + dev + "'", "name holds a character interfaces cannot have");
}

int ifindex_of(NlSocket& sock, const std::string& dev) {
  check_dev_name(dev);
  return rtnl_link_get_ifindex(get_link(sock, dev).get());
}

bool link_exists(const std::string& netns, const std::string& dev) {
  check_dev_name(dev);
  NlSocket sock(netns);
  rtnl_link* link = nullptr;
  if (rtnl_link_get_kernel(sock.get(), 0, dev.c_str(), &link) < 0) return false;
  rtnl_link_put(link);
  return true;
}

std::vector<std::string> list_links(const std::string& netns) {
  NlSocket sock(netns);
  nl_cache* raw = nullptr;
  const int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw);
  if (err < 0) fail("listing interfaces", err);
  CachePtr cache(raw);
  std::vector<std::string> names;
  for (nl_object* obj = nl_cache_get_first(raw); obj; obj = nl_cache_get_next(obj))
    names.emplace_back(rtnl_link_get_name(reinterpret_cast<rtnl_link*>(obj)));
  return names;
}

void set_link_up(const std::string& netns, const std::string& dev) {
  NlSocket sock(netns);
  LinkPtr link = get_link(sock, dev);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  const int err = rtnl_link_change(sock.get(), link.get(), change.get(), 0);
  if (err < 0) fail("bringing up " + describe_dev(netns, dev), err);
}

void create_veth(const std::string& netns_a, const std::string& dev_a, const std::string& netns_b,
                 const std::string& dev_b) {
  check_dev_name(dev_a);
  check_dev_name(dev_b);
  NlSocket sock(netns_a);
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) throw StartupError("veth: out of memory");
  rtnl_link_set_name(link.get(), dev_a.c_str());
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), dev_b.c_str());
  NetnsFd peer_ns;
  if (netns_b != netns_a) {
    if (netns_b.empty()) throw ConfigError("veth '" + dev_b + "'", "the peer needs a namespace");
    peer_ns = open_netns(netns_b);
    rtnl_link_set_ns_fd(peer.get(), peer_ns.get());
  }
  const int err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    if (err == -NLE_EXIST)
      throw ConfigError("veth " + dev_a + "/" + dev_b, "an interface of that name exists already");
    fail("creating veth " + dev_a + "/" + dev_b, err);
  }
}

void create_ifb(const std::string& netns, const std::string& dev) {
  check_dev_name(dev);
  NlSocket sock(netns);
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), dev.c_str());
  int err = rtnl_link_set_type(link.get(), "ifb");
  if (err < 0) fail("ifb " + dev, err);
  err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    if (err == -NLE_EXIST) throw ConfigError(describe_dev(netns, dev), "an interface of that name exists already");
    if (err == -NLE_OPNOTSUPP || err == -NLE_OBJ_NOTFOUND)
      throw StartupError("creating ifb " + dev + ": the kernel lacks the ifb driver (modprobe ifb)");
    fail("creating ifb " + describe_dev(netns, dev), err);
  }
  set_link_up(netns, dev);
}

bool delete_link(const std::string& netns, const std::string& dev) {
  check_dev_name(dev);
  NlSocket sock(netns);
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), dev.c_str());
  const int err = rtnl_link_delete(sock.get(), link.get());
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return false;
  if (err < 0) fail("deleting " + describe_dev(netns, dev), err);
  return true;
}

void add_address(const std::string& netns, const std::string& dev, const std::string& cidr) {
  NlSocket sock(netns);
  const int index = ifindex_of(sock, dev);
  AddrPtr local = parse_addr(cidr, AF_UNSPEC, describe_dev(netns, dev) + " address");
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> addr(rtnl_addr_alloc(), rtnl_addr_put);
  rtnl_addr_set_ifindex(addr.get(), index);
  rtnl_addr_set_local(addr.get(), local.get());
  const int err = rtnl_addr_add(sock.get(), addr.get(), 0);
  if (err < 0) fail("adding " + cidr + " to " + describe_dev(netns, dev), err);
}

void add_default_route(const std::string& netns, const std::string& gateway) {
  NlSocket sock(netns);
  AddrPtr gw = parse_addr(gateway, AF_INET, "gateway");
  AddrPtr dst = parse_addr("0.0.0.0/0", AF_INET, "route");
  std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> route(rtnl_route_alloc(), rtnl_route_put);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  rtnl_route_nh_set_gateway(hop, gw.get());
  rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop now
  const int err = rtnl_route_add(sock.get(), route.get(), NLM_F_CREATE);
  if (err < 0) fail("adding default route via " + gateway + (netns.empty() ? "" : " in netns '" + netns + "'"), err);
}

std::vector<std::string> default_route_interfaces(const std::string& netns) {
  NlSocket sock(netns);
  nl_cache* raw_routes = nullptr;
  int err = rtnl_route_alloc_cache(sock.get(), AF_UNSPEC, 0, &raw_routes);
  if (err < 0) fail("reading routes", err);
  CachePtr routes(raw_routes);
  nl_cache* raw_links = nullptr;
  err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw_links);
  if (err < 0) fail("reading interfaces", err);
  CachePtr links(raw_links);

  std::vector<std::string> names;
  for (nl_object* obj = nl_cache_get_first(raw_routes); obj; obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    nl_addr* dst = rtnl_route_get_dst(route);
    if (dst && nl_addr_get_prefixlen(dst) != 0) continue;
    for (int i = 0; i < rtnl_route_get_nnexthops(route); ++i) {
      const int index = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, i));
      char name[IFNAMSIZ] = {};
      if (index > 0 && rtnl_link_i2name(raw_links, index, name, sizeof name)) {
        std::string text = name;
        bool seen = false;
        for (const auto& n : names) seen = seen || n == text;
        if (!seen) names.push_back(text);
      }
    }
  }
  return names;
}

void write_sysctl(const std::string& netns, const std::string& key, const std::string& value) {
  run_in_netns(netns, [&] {
    const std::string path = "/proc/sys/" + key;
    std::ofstream out(path);
    out << value;
    out.flush();
    if (!out) throw StartupError("cannot write " + path + (netns.empty() ? "" : " in netns '" + netns + "'"));
  });
}

}  // namespace faultline::netem
