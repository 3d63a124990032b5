// `faultline netem ...`: the network layer from the command line. Topologies of
// namespaces joined by veth links, netem/tbf qdiscs applied, changed, cleared
// and shown over netlink, a probe of what this machine can do, and cleanup of
// whatever a crashed faultline left behind (never what a live one holds,
// unless told `clear --all`).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "netem/capture.hpp"
#include "netem/journal.hpp"
#include "netem/netem_spec.hpp"
#include "netem/netns.hpp"
#include "netem/probe.hpp"
#include "netem/qdisc_controller.hpp"
#include "netem/topology.hpp"
#include "runtime/runtime.hpp"

namespace faultline::cli {

namespace {

struct NetemOptions {
  std::string state_dir;
  std::string events_file;
  bool json = false;
  // target
  std::string netns;
  std::string dev;
  std::string topology;
  std::string direction = "both";
  bool ingress = false;
  bool force = false;
  bool all = false;  // clear: the whole journal, live owners' entries too
  // apply
  std::string hold_for;
  bool detach = false;
  std::string pcap_file;
  std::string pcap_filter;
  int snaplen = 262144;
  std::string pcap_max = "100m";
  std::vector<std::string> words;
  // topology
  std::string topo_name;
  bool router = false;
  std::string subnet_prefix = "10.213";
  std::string host;
  std::vector<std::string> command;
};

// One netem command's run: the runtime (its event log, recorded to --events,
// which each command appends to with its own run.start and run.end, so that
// apply, change and clear build one history), the journal, and crash
// recovery (logged, unless the caller reports what was recovered itself).
struct Session {
  explicit Session(const NetemOptions& o, bool log_recovered = true)
      : runtime(runtime_options(o)),
        events(runtime.events()),
        journal(o.state_dir.empty() ? netem::Journal::default_dir() : o.state_dir) {
    recovered = journal.recover(&events);
    for (const auto& e : log_recovered ? recovered : std::vector<netem::JournalEntry>{})
      spdlog::warn("netem: removed a leftover {} {}{} from a faultline that did not exit cleanly (pid {})", e.kind,
                   e.netns.empty() ? "" : e.netns + "/", e.kind == "netns" ? "" : e.dev, e.owner_pid);
  }
  static RuntimeOptions runtime_options(const NetemOptions& o) {
    RuntimeOptions r;
    r.source = "netem";
    r.events_path = o.events_file;
    r.events_mode = JsonlRecorder::Mode::append;
    return r;
  }
  Runtime runtime;
  EventLog& events;
  netem::Journal journal;
  std::vector<netem::JournalEntry> recovered;  // what dead owners left, removed at the start
};

std::vector<netem::Target> targets_of(const NetemOptions& o, bool need_target) {
  if (!o.topology.empty()) {
    if (!o.netns.empty() || !o.dev.empty())
      throw ConfigError("--topology", "give either --topology (with --direction) or --netns/--dev, not both");
    auto targets = netem::topology_targets(o.topology, o.direction);
    for (auto& t : targets) {
      t.ingress = o.ingress;
      t.force = o.force;
    }
    return targets;
  }
  if (o.dev.empty()) {
    if (need_target) throw ConfigError("--dev", "say which interface (--dev, with --netns) or which --topology");
    return {};
  }
  netem::Target t{o.netns, o.dev, o.ingress, o.force, o.dev};
  return {t};
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  return std::chrono::milliseconds(netem::parse_time_us(text, "--for") / 1000);
}

// Blocks until SIGINT/SIGTERM/SIGHUP or until `limit` passes; returns the signal (0 on timeout).
int wait_for_signal(std::optional<std::chrono::milliseconds> limit) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (!limit) {
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
  }
  const auto deadline = std::chrono::steady_clock::now() + *limit;
  for (;;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return 0;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
  }
}

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_apply(const NetemOptions& o) {
  const auto spec = netem::parse_netem_spec(o.words);
  if (o.detach && !o.hold_for.empty()) throw ConfigError("--detach", "cannot be combined with --for");
  if (o.detach && !o.pcap_file.empty()) throw ConfigError("--pcap", "needs faultline to stay running: drop --detach");
  std::optional<std::chrono::milliseconds> hold;
  if (!o.hold_for.empty()) hold = parse_duration(o.hold_for);
  // Signals wait in the mask from here on, so one that comes mid-apply still ends in a clean exit.
  if (!o.detach) block_stop_signals();
  Session s(o);
  const auto targets = targets_of(o, true);
  netem::QdiscController controller(s.journal, &s.events, o.detach);
  std::vector<netem::Target> applied;
  std::unique_ptr<netem::Capture> capture;
  try {
    for (const auto& t : targets) {
      controller.apply(t, spec);
      applied.push_back(t);
    }
    if (!o.pcap_file.empty()) {
      const auto& t = targets.front();
      capture = std::make_unique<netem::Capture>(
          netem::CaptureOptions{t.netns, t.dev, o.pcap_file, o.pcap_filter, o.snaplen,
                                netem::parse_size_bytes(o.pcap_max, "--pcap-max"), t.label},
          &s.events);
    }
  } catch (...) {
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) controller.clear(*it);
    throw;
  }
  for (const auto& t : targets)
    std::cout << "netem: applied on " << (t.netns.empty() ? "" : t.netns + "/") << t.dev
              << (t.ingress ? " (ingress)" : "") << ": " << spec.describe() << "\n";
  std::cout << std::flush;
  if (o.detach) {
    std::cout << "netem: detached; `faultline netem clear` removes it\n";
    return kExitOk;
  }
  const int sig = wait_for_signal(hold);
  if (capture) {
    const auto summary = capture->stop();
    std::cout << "netem: capture " << o.pcap_file << ": " << summary.to_json().dump() << "\n";
  }
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) controller.clear(*it);
  std::cout << "netem: cleared" << (sig ? std::string(" on ") + strsignal(sig) : std::string()) << "\n";
  return sig ? kExitInterrupted : kExitOk;
}

int run_change(const NetemOptions& o) {
  const auto spec = netem::parse_netem_spec(o.words);
  Session s(o);
  netem::QdiscController controller(s.journal, &s.events);
  for (const auto& t : targets_of(o, true)) {
    controller.change(t, spec);
    std::cout << "netem: changed " << (t.netns.empty() ? "" : t.netns + "/") << t.dev << ": " << spec.describe() << "\n";
  }
  return kExitOk;
}

std::string entry_text(const netem::JournalEntry& e) {
  if (e.kind == "netns") return "netns " + e.netns;
  return e.kind + " " + (e.netns.empty() ? "" : e.netns + "/") + e.dev;
}

// Whose a removed entry was: kept on purpose, a dead owner's, or (with --all) a live one's.
std::string owner_text(const netem::JournalEntry& e) {
  if (e.owner_pid <= 0) return "kept";
  const std::string pid = std::to_string(e.owner_pid);
  return netem::Journal::owner_alive(e) ? "owned by live faultline pid " + pid : "its owner, pid " + pid + ", is gone";
}

// `clear` with no target: what no live faultline holds, or everything with --all.
int clear_journal(const NetemOptions& o) {
  Session s(o, false);
  std::vector<netem::JournalEntry> removed = s.recovered;
  std::vector<netem::ClearReport::Left> left;
  if (o.all) {
    for (auto& e : s.journal.clear_all(&s.events)) removed.push_back(std::move(e));
  } else {
    auto report = s.journal.clear_unowned(&s.events);
    for (auto& e : report.removed) removed.push_back(std::move(e));
    left = std::move(report.left);
  }
  for (const auto& e : removed) std::cout << "netem: removed " << entry_text(e) << " (" << owner_text(e) << ")\n";
  for (const auto& l : left) std::cout << "netem: left " << entry_text(l.entry) << ": " << l.why << "\n";
  std::cout << "netem: " << removed.size() << " leftover(s) removed";
  if (!left.empty())
    std::cout << "; " << left.size()
              << " left to live faultline processes (`faultline netem clear --all` removes them too)";
  std::cout << "\n";
  return kExitOk;
}

int run_clear(const NetemOptions& o) {
  if (o.dev.empty() && o.topology.empty()) {
    if (!o.netns.empty()) throw ConfigError("--netns", "needs --dev (or leave both out to clear the journal)");
    return clear_journal(o);
  }
  if (o.all) throw ConfigError("--all", "clears the whole journal; leave out --dev, --netns and --topology");
  Session s(o);
  netem::QdiscController controller(s.journal, &s.events);
  for (const auto& t : targets_of(o, false)) {
    const bool removed = controller.clear(t);
    std::cout << "netem: " << (removed ? "cleared " : "nothing of faultline's on ")
              << (t.netns.empty() ? "" : t.netns + "/") << t.dev << "\n";
  }
  return kExitOk;
}

int run_show(const NetemOptions& o) {
  Session s(o);
  netem::QdiscController controller(s.journal, &s.events);
  nlohmann::json out = nlohmann::json::array();
  auto show_one = [&](const std::string& netns, const std::string& dev) {
    for (const auto& q : controller.show(netns, dev)) {
      if (o.json) {
        auto j = q.to_json();
        j["netns"] = netns;
        out.push_back(j);
      } else {
        std::cout << (netns.empty() ? "" : netns + ": ") << q.describe() << "\n";
      }
    }
  };
  const auto targets = targets_of(o, false);
  if (targets.empty()) show_one(o.netns, {});
  for (const auto& t : targets) show_one(t.netns, t.dev);
  if (o.json) std::cout << out.dump(1) << "\n";
  return kExitOk;
}

int run_probe(const NetemOptions& o) {
  Session s(o);
  const auto checks = netem::probe(s.journal);
  if (o.json) {
    std::cout << netem::probe_json(checks).dump(1) << "\n";
  } else {
    for (const auto& c : checks) {
      std::cout << (c.ok ? "ok    " : "NO    ") << c.name << ": " << c.detail << "\n";
      if (!c.ok) std::cout << "      fix: " << c.fix << "\n";
    }
  }
  return netem::probe_ok(checks, "netns") ? kExitOk : kExitStartup;
}

int run_topology_up(const NetemOptions& o) {
  Session s(o);
  const auto info = netem::topology_up(s.journal, {o.topo_name, o.router, o.subnet_prefix});
  if (o.json) {
    std::cout << info.to_json().dump(1) << "\n";
  } else {
    for (const auto& h : info.hosts) {
      std::cout << "topology " << info.name << ": " << h.role << " netns " << h.netns;
      for (std::size_t i = 0; i < h.devs.size(); ++i) std::cout << " " << h.devs[i] << " " << h.addresses[i];
      std::cout << "\n";
    }
  }
  s.events.emit("net:" + info.name, "netem.topology.up", info.to_json());
  return kExitOk;
}

int run_topology_down(const NetemOptions& o) {
  Session s(o);
  const bool removed = netem::topology_down(s.journal, o.topo_name);
  std::cout << "topology " << o.topo_name << (removed ? ": removed\n" : ": nothing to remove\n");
  if (removed) s.events.emit("net:" + o.topo_name, "netem.topology.down");
  return kExitOk;
}

int run_topology_exec(const NetemOptions& o) {
  const std::string ns = netem::topology_host_netns(o.topo_name, o.host);
  if (o.command.empty()) throw ConfigError("exec", "no command given (write: -- COMMAND ARGS...)");
  netem::NetnsFd fd = netem::open_netns(ns);
  netem::enter_netns(fd, ns);
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw StartupError("exec '" + o.command.front() + "' in netns '" + ns + "': " + std::strerror(errno));
}

void add_common(CLI::App* app, NetemOptions& o) {
  app->add_option("--state-dir", o.state_dir, "where the ownership journal lives (default $FAULTLINE_STATE_DIR or /run/faultline)");
  app->add_option("--events", o.events_file, "append the events (JSON lines) to this file");
}

void add_target(CLI::App* app, NetemOptions& o) {
  app->add_option("--netns", o.netns, "the network namespace of the interface (default: faultline's own)");
  app->add_option("--dev", o.dev, "the interface");
  app->add_option("--topology", o.topology, "a faultline topology instead of --netns/--dev");
  app->add_option("--direction", o.direction, "on a topology: upstream (client->server), downstream, both")
      ->capture_default_str();
  app->add_flag("--ingress", o.ingress, "shape what arrives on the interface (through an ifb device)");
  app->add_flag("--force", o.force, "allow the interface that carries the default route");
}

}  // namespace

void register_netem_command(CLI::App& root, CommandResult& result) {
  auto o = std::make_shared<NetemOptions>();
  CLI::App* netem = root.add_subcommand("netem", "kernel-level faults: namespaces, veth links, netem/tbf qdiscs");
  netem->require_subcommand(1);
  auto guarded = [&result](const char* name, int (*fn)(const NetemOptions&), std::shared_ptr<NetemOptions> opts) {
    return [&result, name, fn, opts] { result.exit_code = run_guarded(name, [&] { return fn(*opts); }); };
  };

  const char* words_help = "netem words, tc style: delay 100ms [10ms [25%]] distribution normal loss 10% | "
                           "loss gemodel P R BAD GOOD | loss state P13 ... duplicate 1% corrupt 1% reorder 25% gap 5 "
                           "rate 1mbit [OVERHEAD CELL CELLOVERHEAD] limit 1000 bandwidth 1mbit [burst 32k] "
                           "[latency 50ms] partition";
  CLI::App* apply = netem->add_subcommand("apply", "apply a fault; holds it until SIGINT/SIGTERM or --for, then removes it");
  add_common(apply, *o);
  add_target(apply, *o);
  apply->add_option("--for", o->hold_for, "remove the fault after this long (e.g. 30s)");
  apply->add_flag("--detach", o->detach, "leave the fault in place and exit (`netem clear` removes it)");
  apply->add_option("--pcap", o->pcap_file, "record the interface's packets to this pcap file while the fault holds");
  apply->add_option("--pcap-filter", o->pcap_filter, "pcap filter expression for --pcap");
  apply->add_option("--snaplen", o->snaplen, "bytes kept of each packet")->capture_default_str();
  apply->add_option("--pcap-max", o->pcap_max, "stop writing the pcap past this size")->capture_default_str();
  apply->add_option("words", o->words, words_help)->required();
  apply->callback(guarded("netem apply", run_apply, o));

  CLI::App* change = netem->add_subcommand("change", "change faultline's qdisc in place");
  add_common(change, *o);
  add_target(change, *o);
  change->add_option("words", o->words, words_help)->required();
  change->callback(guarded("netem change", run_change, o));

  CLI::App* clear = netem->add_subcommand(
      "clear",
      "remove faultline's qdiscs from a target; with no target, every leftover in the journal that no live faultline "
      "holds (what dead ones left, kept topologies and --detach faults), saying what it leaves and whose it is");
  add_common(clear, *o);
  add_target(clear, *o);
  clear->add_flag("--all", o->all,
                  "with no target: remove everything in the journal, what live faultline processes own or use too");
  clear->callback(guarded("netem clear", run_clear, o));

  CLI::App* show = netem->add_subcommand("show", "list the qdiscs of a namespace or interface");
  add_common(show, *o);
  add_target(show, *o);
  show->add_flag("--json", o->json, "print JSON");
  show->callback(guarded("netem show", run_show, o));

  CLI::App* probe = netem->add_subcommand("probe", "say what this machine can do, and for what it cannot, why and what to do");
  add_common(probe, *o);
  probe->add_flag("--json", o->json, "print JSON");
  probe->callback(guarded("netem probe", run_probe, o));

  CLI::App* topology = netem->add_subcommand("topology", "hosts as network namespaces joined by veth links");
  topology->require_subcommand(1);
  CLI::App* up = topology->add_subcommand("up", "create a topology: client and server (and --router)");
  add_common(up, *o);
  up->add_option("name", o->topo_name, "1 to 8 of a-z0-9; namespaces are fl-NAME-client, fl-NAME-server")->required();
  up->add_flag("--router", o->router, "put a router host between client and server");
  up->add_option("--subnet-prefix", o->subnet_prefix, "first two octets of the addresses")->capture_default_str();
  up->add_flag("--json", o->json, "print JSON");
  up->callback(guarded("netem topology up", run_topology_up, o));
  CLI::App* down = topology->add_subcommand("down", "remove a topology and everything in it");
  add_common(down, *o);
  down->add_option("name", o->topo_name, "the topology")->required();
  down->callback(guarded("netem topology down", run_topology_down, o));
  CLI::App* exec = topology->add_subcommand("exec", "run a command on one host of a topology");
  exec->add_option("name", o->topo_name, "the topology")->required();
  exec->add_option("host", o->host, "client, server or router")->required();
  exec->add_option("command", o->command, "the command and its arguments (after --)")->required();
  exec->callback(guarded("netem topology exec", run_topology_exec, o));
}

}  // namespace faultline::cli
