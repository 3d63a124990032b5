// netem/ on the host kernel: namespaces, veth topologies, tbf, ingress through
// ifb, the journal and crash cleanup, ownership refusals and bad input. Needs
// root (CAP_NET_ADMIN + CAP_SYS_ADMIN); skips, saying why, without it.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>

#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "netem/journal.hpp"
#include "netem/links.hpp"
#include "netem/netns.hpp"
#include "netem/probe.hpp"
#include "netem/qdisc_controller.hpp"
#include "netem/topology.hpp"

using namespace faultline::netem;
using faultline::ConfigError;

namespace {

std::string skip_reason() {
  if (geteuid() != 0) return "not root (needs CAP_NET_ADMIN and CAP_SYS_ADMIN)";
  const std::string ns = "fl-chk-" + std::to_string(getpid());
  try {
    create_netns(ns);
    delete_netns(ns);
  } catch (const std::exception& e) {
    return std::string("cannot create a network namespace: ") + e.what();
  }
  return "";
}

bool skipped() {
  static const std::string reason = skip_reason();
  if (!reason.empty()) MESSAGE("SKIPPED: " << reason);
  return !reason.empty();
}

// A journal in a fresh folder and a topology name unique to this process.
struct Fixture {
  std::string dir = "/tmp/faultline-netem-test-" + std::to_string(getpid());
  Journal journal{dir};
  std::string name = "h" + std::to_string(getpid() % 10000000);
  Fixture() { std::filesystem::create_directories(dir); }
  ~Fixture() {
    try {
      journal.clear_all();
      topology_down(journal, name);
    } catch (...) {
    }
    std::filesystem::remove_all(dir);
  }
  std::string client() const { return "fl-" + name + "-client"; }
  std::string server() const { return "fl-" + name + "-server"; }
  std::string cdev() const { return "fl-" + name + "-c"; }
  std::string sdev() const { return "fl-" + name + "-s"; }
};

std::optional<QdiscInfo> root_of(const std::string& ns, const std::string& dev) {
  for (const auto& q : list_qdiscs(ns, dev))
    if (q.parent == 0xffffffffu) return q;
  return std::nullopt;
}

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a topology comes up with addresses and goes down leaving nothing") {
  if (skipped()) return;
  Fixture fx;
  const auto info = topology_up(fx.journal, {fx.name, false, "10.213"});
  CHECK(info.hosts.size() == 2);
  CHECK(netns_exists(fx.client()));
  CHECK(netns_exists(fx.server()));
  CHECK(link_exists(fx.client(), fx.cdev()));
  CHECK(link_exists(fx.server(), fx.sdev()));
  CHECK(fx.journal.entries().size() == 2);
  CHECK(config_error([&] { topology_up(fx.journal, {fx.name, false, "10.213"}); }).find("exists already") != std::string::npos);
  CHECK(topology_down(fx.journal, fx.name));
  CHECK_FALSE(netns_exists(fx.client()));
  CHECK_FALSE(netns_exists(fx.server()));
  CHECK(fx.journal.entries().empty());
}

TEST_CASE("a topology with a router routes between client and server") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, true, "10.214"});
  CHECK(netns_exists("fl-" + fx.name + "-router"));
  const auto targets = topology_targets(fx.name, "both");
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].netns == "fl-" + fx.name + "-router");
  CHECK(topology_down(fx.journal, fx.name));
  CHECK_FALSE(netns_exists("fl-" + fx.name + "-router"));
}

TEST_CASE("tbf is applied, changed, shown and cleared on one direction only") {
  if (skipped()) return;
  Fixture fx;
  faultline::EventLog events;
  std::vector<std::string> kinds;
  events.add_sink([&](const faultline::Event& e) { kinds.push_back(e.kind); });
  topology_up(fx.journal, {fx.name, false, "10.213"});
  QdiscController controller(fx.journal, &events);
  const auto up = topology_targets(fx.name, "upstream").at(0);
  controller.apply(up, parse_netem_spec({"bandwidth", "1mbit"}));
  auto root = root_of(up.netns, up.dev);
  REQUIRE(root);
  CHECK(root->kind == "tbf");
  CHECK(root->handle == kOwnedRootHandle);
  CHECK(root->owned);
  CHECK(root->options["rate_bytes_per_s"] == 125000);
  CHECK(root_of(fx.server(), fx.sdev())->handle == 0);  // downstream untouched

  CHECK(config_error([&] { controller.apply(up, parse_netem_spec({"bandwidth", "2mbit"})); }).find("use `change`") !=
        std::string::npos);
  controller.change(up, parse_netem_spec({"bandwidth", "2mbit"}));
  CHECK(root_of(up.netns, up.dev)->options["rate_bytes_per_s"] == 250000);

  CHECK(controller.clear(up));
  CHECK(root_of(up.netns, up.dev)->handle == 0);
  CHECK_FALSE(controller.clear(up));
  CHECK(kinds == std::vector<std::string>{"netem.apply", "netem.change", "netem.clear"});
}

TEST_CASE("ingress shaping goes through an ifb device and is removed with it") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  QdiscController controller(fx.journal);
  Target t{fx.client(), fx.cdev(), true};
  controller.apply(t, parse_netem_spec({"bandwidth", "1mbit"}));
  bool ingress = false;
  for (const auto& q : list_qdiscs(t.netns, t.dev)) ingress = ingress || q.kind == "ingress";
  CHECK(ingress);
  std::string ifb;
  for (const auto& dev : list_links(t.netns))
    if (dev.rfind("fl-ifb", 0) == 0) ifb = dev;
  REQUIRE_FALSE(ifb.empty());
  CHECK(root_of(t.netns, ifb)->kind == "tbf");
  CHECK(controller.clear(t));
  CHECK_FALSE(link_exists(t.netns, ifb));
  for (const auto& q : list_qdiscs(t.netns, t.dev)) CHECK(q.kind != "ingress");
}

TEST_CASE("a qdisc faultline does not own is neither replaced, changed nor deleted") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  const auto spec = parse_netem_spec({"bandwidth", "1mbit"});
  add_tbf_qdisc(fx.client(), fx.cdev(), 0xffffffffu, 0x00010000u, spec, false);  // someone else's, handle 1:
  QdiscController controller(fx.journal);
  Target t{fx.client(), fx.cdev()};
  CHECK(config_error([&] { controller.apply(t, spec); }).find("does not own") != std::string::npos);
  CHECK(config_error([&] { controller.change(t, spec); }).find("does not own") != std::string::npos);
  CHECK(config_error([&] { controller.clear(t); }).find("does not own") != std::string::npos);
  CHECK(root_of(t.netns, t.dev)->handle == 0x00010000u);
}

TEST_CASE("a failed apply rolls back what it made") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  QdiscController controller(fx.journal);
  // The ifb and the ingress qdisc are made first; a tbf over 17gbit then fails.
  Target t{fx.client(), fx.cdev(), true};
  CHECK_THROWS(controller.apply(t, parse_netem_spec({"bandwidth", "20gbit"})));
  for (const auto& dev : list_links(t.netns)) CHECK(dev.rfind("fl-ifb", 0) != 0);
  for (const auto& q : list_qdiscs(t.netns, t.dev)) CHECK(q.kind != "ingress");
  CHECK(fx.journal.entries().size() == 2);  // the topology's namespaces only
}

TEST_CASE("the interface of the default route is refused unless forced") {
  if (skipped()) return;
  Fixture fx;
  const auto defaults = default_route_interfaces();
  if (defaults.empty()) {
    MESSAGE("SKIPPED: this machine has no default route");
    return;
  }
  QdiscController controller(fx.journal);
  CHECK(config_error([&] { controller.apply({"", defaults[0]}, parse_netem_spec({"bandwidth", "1mbit"})); })
            .find("--force") != std::string::npos);
  CHECK(root_of("", defaults[0]).value_or(QdiscInfo{}).handle != kOwnedRootHandle);
}

TEST_CASE("unknown interfaces and namespaces are named in the error") {
  if (skipped()) return;
  Fixture fx;
  QdiscController controller(fx.journal);
  const auto spec = parse_netem_spec({"bandwidth", "1mbit"});
  CHECK(config_error([&] { controller.apply({"fl-nosuch-ns", "x0"}, spec); }) ==
        "netns 'fl-nosuch-ns': no such network namespace");
  CHECK(config_error([&] { controller.apply({"", "flnosuch0"}, spec); }) == "interface 'flnosuch0': no such interface");
  CHECK(config_error([&] { controller.apply({"", "a/b"}, spec); }).find("interface 'a/b'") != std::string::npos);
  CHECK(config_error([&] { topology_up(fx.journal, {"Bad!", false, "10.213"}); }).find("topology 'Bad!'") != std::string::npos);
  CHECK(config_error([&] { topology_targets("nosuch", "upstream"); }).find("does not exist") != std::string::npos);
  CHECK(fx.journal.entries().empty());
}

TEST_CASE("what a killed owner left behind is removed by the next start") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  // A child applies a qdisc as its own and dies without cleaning up (as SIGKILL would leave it).
  const pid_t child = fork();
  if (child == 0) {
    try {
      Journal journal(fx.dir);
      QdiscController controller(journal);
      controller.apply({fx.client(), fx.cdev()}, parse_netem_spec({"bandwidth", "1mbit"}));
    } catch (...) {
      _exit(1);
    }
    _exit(0);  // no destructors, no cleanup
  }
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(root_of(fx.client(), fx.cdev())->handle == kOwnedRootHandle);  // left behind
  faultline::EventLog events;
  int cleanups = 0;
  events.add_sink([&](const faultline::Event& e) { cleanups += e.kind == "netem.cleanup"; });
  const auto removed = fx.journal.recover(&events);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].kind == "qdisc");
  CHECK(cleanups == 1);
  CHECK(root_of(fx.client(), fx.cdev())->handle == 0);
  CHECK(netns_exists(fx.client()));  // the topology is kept on purpose
  CHECK(fx.journal.recover().empty());
}

TEST_CASE("clear_all removes every leftover, kept or not") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  QdiscController kept(fx.journal, nullptr, true);
  kept.apply({fx.server(), fx.sdev()}, parse_netem_spec({"bandwidth", "1mbit"}));
  CHECK(fx.journal.recover().empty());  // kept entries survive recovery
  CHECK(fx.journal.clear_all().size() == 3);
  CHECK_FALSE(netns_exists(fx.client()));
  CHECK_FALSE(netns_exists(fx.server()));
}

TEST_CASE("clear_unowned leaves what a live faultline holds, and says whose it is") {
  if (skipped()) return;
  Fixture fx;
  topology_up(fx.journal, {fx.name, false, "10.213"});
  QdiscController live(fx.journal);  // owned by this process, which is alive
  live.apply({fx.client(), fx.cdev()}, parse_netem_spec({"bandwidth", "1mbit"}));
  const std::string other = "fl-" + fx.name + "-o";
  create_netns(other);
  JournalEntry detached{.kind = "netns", .netns = other, .label = "other"};
  Journal::set_owner(detached, true);
  fx.journal.add(detached);  // kept, and nothing live inside: removed
  const auto report = fx.journal.clear_unowned();
  REQUIRE(report.removed.size() == 1);
  CHECK(report.removed[0].netns == other);
  CHECK_FALSE(netns_exists(other));
  REQUIRE(report.left.size() == 3);  // the live qdisc and the topology's two namespaces
  for (const auto& l : report.left) {
    CHECK(l.holder_pid == getpid());
    CHECK(l.why.find("live faultline pid " + std::to_string(getpid())) != std::string::npos);
  }
  CHECK(netns_exists(fx.client()));
  CHECK(netns_exists(fx.server()));
  CHECK(root_of(fx.client(), fx.cdev())->handle == kOwnedRootHandle);
  CHECK(fx.journal.clear_all().size() == 3);
}

TEST_CASE("probe says what works and, for what does not, what to do") {
  if (skipped()) return;
  Fixture fx;
  const auto checks = probe(fx.journal);
  CHECK(probe_ok(checks, "netns"));
  CHECK(probe_ok(checks, "veth"));
  CHECK(probe_ok(checks, "sch_tbf"));
  for (const auto& c : checks) {
    INFO(c.name << ": " << c.detail);
    if (!c.ok) CHECK_FALSE(c.fix.empty());
  }
  CHECK(fx.journal.entries().empty());
  CHECK(list_netns("fl-probe-" + std::to_string(getpid())).empty());
}
