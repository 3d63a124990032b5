#include "netem/qdisc_controller.hpp"

#include <linux/pkt_sched.h>

#include <optional>

#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "netem/links.hpp"
#include "netem/netlink.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

QdiscController::QdiscController(Journal& journal, EventLog* events, bool persistent)
    : journal_(journal), events_(events), persistent_(persistent) {}

void QdiscController::check_target(const Target& target) {
  if (!target.netns.empty()) {
    check_netns_name(target.netns);
    if (!netns_exists(target.netns)) throw ConfigError("netns '" + target.netns + "'", "no such network namespace");
  }
  check_dev_name(target.dev);
  if (!link_exists(target.netns, target.dev)) throw ConfigError(describe_dev(target.netns, target.dev), "no such interface");
  const bool own_namespace = target.netns.rfind(kNamePrefix, 0) == 0;
  if (!target.force && !own_namespace) {
    for (const auto& dev : default_route_interfaces(target.netns))
      if (dev == target.dev)
        throw ConfigError(describe_dev(target.netns, target.dev),
                          "carries the default route; faultline will not shape it unless told --force");
  }
}

std::string QdiscController::shaped_dev(const Target& target, int ifindex) const {
  if (!target.ingress) return target.dev;
  return std::string(kNamePrefix) + "ifb" + std::to_string(ifindex);
}

void QdiscController::apply(const Target& target, const NetemSpec& spec) {
  if (spec.empty()) throw ConfigError("netem", "nothing to apply");
  check_target(target);
  const std::string label = target.label.empty() ? target.dev : target.label;
  int ifindex;
  {
    NlSocket sock(target.netns);
    ifindex = ifindex_of(sock, target.dev);
  }
  const std::string dev = shaped_dev(target, ifindex);

  // Refuse before touching anything when someone else's qdisc is in the way.
  const auto existing = list_qdiscs(target.netns, target.dev);
  if (target.ingress) {
    for (const auto& q : existing)
      if (q.parent == kIngressParent)
        throw ConfigError(describe_dev(target.netns, target.dev),
                          "already has an ingress qdisc (" + q.kind + "); faultline does not replace what it does not own");
  } else if (auto root = find_at(existing, TC_H_ROOT); root && root->handle != 0) {
    if (root->owned)
      throw ConfigError(describe_dev(target.netns, target.dev),
                        "already has faultline's qdisc; use `change` to alter it or `clear` to remove it");
    throw ConfigError(describe_dev(target.netns, target.dev),
                      "has a " + root->kind + " qdisc (" + handle_text(root->handle) +
                          ") that faultline does not own; it will not replace it");
  }

  std::vector<std::string> done;  // journal ids, in order
  auto record = [&](JournalEntry e) {
    e.netns = target.netns;
    e.label = label;
    Journal::set_owner(e, persistent_);
    done.push_back(journal_.add(std::move(e)));
  };
  try {
    if (target.ingress) {
      record({.kind = "link", .dev = dev});
      create_ifb(target.netns, dev);
      record({.kind = "ingress", .dev = target.dev});
      add_ingress_redirect(target.netns, target.dev, dev);
    }
    record({.kind = "qdisc", .dev = dev, .handle = kOwnedRootHandle, .spec = spec.describe()});
    if (spec.needs_netem()) {
      add_netem_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, false);
      if (spec.needs_tbf()) add_tbf_qdisc(target.netns, dev, kOwnedRootHandle | 1u, kOwnedChildHandle, spec, false);
    } else {
      add_tbf_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, false);
    }
  } catch (...) {
    // Roll back what was made, newest first; keep the first error.
    journal_.undo_where([&](const JournalEntry& e) {
      for (const auto& id : done)
        if (id == e.id) return true;
      return false;
    });
    throw;
  }
  if (events_) {
    auto fields = spec.to_json();
    fields["netns"] = target.netns;
    fields["dev"] = target.dev;
    fields["direction"] = target.ingress ? "ingress" : "egress";
    events_->emit("net:" + label, "netem.apply", fields);
  }
}

void QdiscController::change(const Target& target, const NetemSpec& spec) {
  if (spec.empty()) throw ConfigError("netem", "nothing to change to");
  check_target(target);
  int ifindex;
  {
    NlSocket sock(target.netns);
    ifindex = ifindex_of(sock, target.dev);
  }
  const std::string dev = shaped_dev(target, ifindex);
  if (target.ingress && !link_exists(target.netns, dev))
    throw ConfigError(describe_dev(target.netns, target.dev), "has no faultline ingress fault to change; use `apply`");
  const auto existing = list_qdiscs(target.netns, dev);
  auto root = find_at(existing, TC_H_ROOT);
  if (!root || root->handle == 0)
    throw ConfigError(describe_dev(target.netns, dev), "has no faultline qdisc to change; use `apply`");
  if (!root->owned)
    throw ConfigError(describe_dev(target.netns, dev), "has a " + root->kind + " qdisc (" + handle_text(root->handle) +
                                                           ") that faultline does not own; it will not change it");
  std::optional<JournalEntry> entry;
  for (const auto& e : journal_.entries())
    if (e.kind == "qdisc" && e.netns == target.netns && e.dev == dev) entry = e;
  const bool root_is_netem = root->kind == "netem";
  bool has_child = false;
  for (const auto& q : existing) has_child = has_child || q.handle == kOwnedChildHandle;

  // A change that alters the qdisc structure, or that drops a delay table the
  // kernel would otherwise keep, replaces the qdiscs; the rest changes in place.
  bool old_table = false;
  if (entry && !entry->spec.empty()) {
    try {
      const auto old = parse_netem_spec(split_words(entry->spec));
      old_table = old.distribution_set && old.distribution != Distribution::kUniform;
    } catch (const std::exception&) {
    }
  }
  const bool new_table = spec.distribution_set && spec.distribution != Distribution::kUniform;
  const bool in_place = root_is_netem == spec.needs_netem() && !(old_table && !new_table);
  if (in_place && spec.needs_netem()) {
    add_netem_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, true);
    if (spec.needs_tbf())
      add_tbf_qdisc(target.netns, dev, kOwnedRootHandle | 1u, kOwnedChildHandle, spec, has_child);
    else if (has_child)
      delete_qdisc(target.netns, dev, kOwnedRootHandle | 1u, kOwnedChildHandle);
  } else if (in_place) {
    add_tbf_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, true);
  } else {
    delete_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle);
    if (spec.needs_netem()) {
      add_netem_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, false);
      if (spec.needs_tbf()) add_tbf_qdisc(target.netns, dev, kOwnedRootHandle | 1u, kOwnedChildHandle, spec, false);
    } else {
      add_tbf_qdisc(target.netns, dev, TC_H_ROOT, kOwnedRootHandle, spec, false);
    }
  }
  if (entry) journal_.update_spec(entry->id, spec.describe());
  if (events_) {
    auto fields = spec.to_json();
    fields["netns"] = target.netns;
    fields["dev"] = target.dev;
    events_->emit("net:" + (target.label.empty() ? target.dev : target.label), "netem.change", fields);
  }
}

bool QdiscController::clear(const Target& target) {
  if (!target.netns.empty() && !netns_exists(target.netns))
    throw ConfigError("netns '" + target.netns + "'", "no such network namespace");
  check_dev_name(target.dev);
  if (!link_exists(target.netns, target.dev)) throw ConfigError(describe_dev(target.netns, target.dev), "no such interface");
  int ifindex;
  {
    NlSocket sock(target.netns);
    ifindex = ifindex_of(sock, target.dev);
  }
  const std::string ifb = std::string(kNamePrefix) + "ifb" + std::to_string(ifindex);
  auto root = find_at(list_qdiscs(target.netns, target.dev), TC_H_ROOT);
  if (root && root->handle != 0 && !root->owned && !link_exists(target.netns, ifb))
    throw ConfigError(describe_dev(target.netns, target.dev), "has a " + root->kind + " qdisc (" +
                                                                  handle_text(root->handle) +
                                                                  ") that faultline does not own; it leaves it alone");
  // Journaled pieces first (so the journal stays true), then anything carrying faultline's mark.
  const auto undone = journal_.undo_where([&](const JournalEntry& e) {
    return e.netns == target.netns && e.kind != "netns" && (e.dev == target.dev || e.dev == ifb);
  });
  bool removed = !undone.empty();
  if (root && root->owned) removed = delete_qdisc(target.netns, target.dev, TC_H_ROOT, root->handle) || removed;
  if (events_ && removed)
    events_->emit("net:" + (target.label.empty() ? target.dev : target.label), "netem.clear",
                  {{"netns", target.netns}, {"dev", target.dev}});
  return removed;
}

std::vector<QdiscInfo> QdiscController::show(const std::string& netns, const std::string& dev) {
  if (!netns.empty() && !netns_exists(netns)) throw ConfigError("netns '" + netns + "'", "no such network namespace");
  if (!dev.empty()) {
    check_dev_name(dev);
    if (!link_exists(netns, dev)) throw ConfigError(describe_dev(netns, dev), "no such interface");
  }
  return list_qdiscs(netns, dev);
}

}  // namespace faultline::netem
