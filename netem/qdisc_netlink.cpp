#include "netem/qdisc_netlink.hpp"

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>

#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "core/errors.hpp"
#include "netem/distribution_table.hpp"
#include "netem/journal.hpp"
#include "netem/links.hpp"
#include "netem/netlink.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

namespace {

std::uint32_t probability(double percent) {
  const double v = std::round(percent / 100.0 * 4294967295.0);
  return static_cast<std::uint32_t>(std::clamp(v, 0.0, 4294967295.0));
}

double percent_of(std::uint32_t p) { return std::round(static_cast<double>(p) / 4294967295.0 * 1e6) / 1e4; }

// psched ticks (64 ns each) for the legacy 32-bit fields; LATENCY64/JITTER64 carry the exact value.
std::uint32_t ticks(std::int64_t us) {
  const double t = static_cast<double>(us) * 1000.0 / 64.0;
  return static_cast<std::uint32_t>(std::min(t, 4294967295.0));
}

[[noreturn]] void fail_qdisc(const std::string& what, int err) {
  if (err == -NLE_PERM) throw StartupError(what + ": operation not permitted (needs CAP_NET_ADMIN: run as root)");
  throw StartupError(what + ": " + nl_error_text(err));
}

struct QdiscDeleter {
  void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }
};
using QdiscPtr = std::unique_ptr<rtnl_qdisc, QdiscDeleter>;

QdiscPtr make_qdisc(int ifindex, std::uint32_t parent, std::uint32_t handle, const char* kind) {
  QdiscPtr q(rtnl_qdisc_alloc());
  if (!q) throw StartupError("qdisc: out of memory");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  if (handle) rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  if (kind) rtnl_tc_set_kind(TC_CAST(q.get()), kind);
  return q;
}

// ---- decoding a qdisc dump -------------------------------------------------

nlohmann::json decode_netem(nlattr* opts) {
  nlohmann::json j = nlohmann::json::object();
  const int len = nla_len(opts);
  if (len < static_cast<int>(sizeof(tc_netem_qopt))) return j;
  tc_netem_qopt qopt{};
  std::memcpy(&qopt, nla_data(opts), sizeof qopt);
  std::int64_t latency_ns = static_cast<std::int64_t>(qopt.latency) * 64;
  std::int64_t jitter_ns = static_cast<std::int64_t>(qopt.jitter) * 64;
  j["limit"] = qopt.limit;
  if (qopt.loss) j["loss_percent"] = percent_of(qopt.loss);
  if (qopt.duplicate) j["duplicate_percent"] = percent_of(qopt.duplicate);
  if (qopt.gap) j["gap"] = qopt.gap;
  const int nested_len = len - NLA_ALIGN(static_cast<int>(sizeof(tc_netem_qopt)));
  nlattr* tb[TCA_NETEM_MAX + 1] = {};
  if (nested_len > 0) {
    auto* first = reinterpret_cast<nlattr*>(static_cast<char*>(nla_data(opts)) + NLA_ALIGN(sizeof(tc_netem_qopt)));
    nla_parse(tb, TCA_NETEM_MAX, first, nested_len, nullptr);
  }
  auto fits = [&](int type, std::size_t size) { return tb[type] && nla_len(tb[type]) >= static_cast<int>(size); };
  if (fits(TCA_NETEM_LATENCY64, 8)) latency_ns = static_cast<std::int64_t>(nla_get_u64(tb[TCA_NETEM_LATENCY64]));
  if (fits(TCA_NETEM_JITTER64, 8)) jitter_ns = static_cast<std::int64_t>(nla_get_u64(tb[TCA_NETEM_JITTER64]));
  if (latency_ns) j["delay_ms"] = static_cast<double>(latency_ns) / 1e6;
  if (jitter_ns) j["jitter_ms"] = static_cast<double>(jitter_ns) / 1e6;
  if (fits(TCA_NETEM_CORR, sizeof(tc_netem_corr))) {
    tc_netem_corr c{};
    std::memcpy(&c, nla_data(tb[TCA_NETEM_CORR]), sizeof c);
    if (c.delay_corr) j["delay_correlation_percent"] = percent_of(c.delay_corr);
    if (c.loss_corr) j["loss_correlation_percent"] = percent_of(c.loss_corr);
    if (c.dup_corr) j["duplicate_correlation_percent"] = percent_of(c.dup_corr);
  }
  if (fits(TCA_NETEM_REORDER, sizeof(tc_netem_reorder))) {
    tc_netem_reorder r{};
    std::memcpy(&r, nla_data(tb[TCA_NETEM_REORDER]), sizeof r);
    if (r.probability) j["reorder_percent"] = percent_of(r.probability);
    if (r.correlation) j["reorder_correlation_percent"] = percent_of(r.correlation);
  }
  if (fits(TCA_NETEM_CORRUPT, sizeof(tc_netem_corrupt))) {
    tc_netem_corrupt c{};
    std::memcpy(&c, nla_data(tb[TCA_NETEM_CORRUPT]), sizeof c);
    if (c.probability) j["corrupt_percent"] = percent_of(c.probability);
    if (c.correlation) j["corrupt_correlation_percent"] = percent_of(c.correlation);
  }
  if (fits(TCA_NETEM_RATE, sizeof(tc_netem_rate))) {
    tc_netem_rate r{};
    std::memcpy(&r, nla_data(tb[TCA_NETEM_RATE]), sizeof r);
    std::uint64_t rate = r.rate;
    if (fits(TCA_NETEM_RATE64, 8)) rate = nla_get_u64(tb[TCA_NETEM_RATE64]);
    if (rate) {
      j["rate_bytes_per_s"] = rate;
      j["packet_overhead"] = r.packet_overhead;
      j["cell_size"] = r.cell_size;
      j["cell_overhead"] = r.cell_overhead;
    }
  }
  if (tb[TCA_NETEM_LOSS]) {
    nlattr* lm[NETEM_LOSS_MAX + 1] = {};
    nla_parse_nested(lm, NETEM_LOSS_MAX, tb[TCA_NETEM_LOSS], nullptr);
    if (lm[NETEM_LOSS_GE] && nla_len(lm[NETEM_LOSS_GE]) >= static_cast<int>(sizeof(tc_netem_gemodel))) {
      tc_netem_gemodel g{};
      std::memcpy(&g, nla_data(lm[NETEM_LOSS_GE]), sizeof g);
      j["loss_gemodel"] = {{"p", percent_of(g.p)}, {"r", percent_of(g.r)},
                           {"bad_loss", 100 - percent_of(g.h)}, {"good_loss", percent_of(g.k1)}};
    }
    if (lm[NETEM_LOSS_GI] && nla_len(lm[NETEM_LOSS_GI]) >= static_cast<int>(sizeof(tc_netem_gimodel))) {
      tc_netem_gimodel g{};
      std::memcpy(&g, nla_data(lm[NETEM_LOSS_GI]), sizeof g);
      j["loss_state"] = {{"p13", percent_of(g.p13)}, {"p31", percent_of(g.p31)}, {"p32", percent_of(g.p32)},
                         {"p23", percent_of(g.p23)}, {"p14", percent_of(g.p14)}};
    }
  }
  return j;
}

nlohmann::json decode_tbf(nlattr* opts) {
  nlohmann::json j = nlohmann::json::object();
  nlattr* tb[TCA_TBF_MAX + 1] = {};
  if (nla_parse_nested(tb, TCA_TBF_MAX, opts, nullptr) < 0) return j;
  if (tb[TCA_TBF_PARMS] && nla_len(tb[TCA_TBF_PARMS]) >= static_cast<int>(sizeof(tc_tbf_qopt))) {
    tc_tbf_qopt q{};
    std::memcpy(&q, nla_data(tb[TCA_TBF_PARMS]), sizeof q);
    std::uint64_t rate = q.rate.rate;
    if (tb[TCA_TBF_RATE64] && nla_len(tb[TCA_TBF_RATE64]) >= 8) rate = nla_get_u64(tb[TCA_TBF_RATE64]);
    j["rate_bytes_per_s"] = rate;
    j["limit_bytes"] = q.limit;
  }
  return j;
}

struct DumpContext {
  std::vector<QdiscInfo>* out;
  std::map<int, std::string>* names;
  int only_ifindex;
};

int on_qdisc(nl_msg* msg, void* arg) {
  auto* ctx = static_cast<DumpContext*>(arg);
  nlmsghdr* hdr = nlmsg_hdr(msg);
  if (hdr->nlmsg_type != RTM_NEWQDISC) return NL_OK;
  auto* tcm = static_cast<tcmsg*>(nlmsg_data(hdr));
  if (ctx->only_ifindex && tcm->tcm_ifindex != ctx->only_ifindex) return NL_OK;
  nlattr* tb[TCA_MAX + 1] = {};
  if (nlmsg_parse(hdr, sizeof(tcmsg), tb, TCA_MAX, nullptr) < 0) return NL_OK;
  QdiscInfo info;
  auto name = ctx->names->find(tcm->tcm_ifindex);
  info.dev = name != ctx->names->end() ? name->second : "if" + std::to_string(tcm->tcm_ifindex);
  info.handle = tcm->tcm_handle;
  info.parent = tcm->tcm_parent;
  if (tb[TCA_KIND]) info.kind = nla_get_string(tb[TCA_KIND]);
  info.owned = is_owned_handle(info.handle);
  if (tb[TCA_OPTIONS]) {
    if (info.kind == "netem") info.options = decode_netem(tb[TCA_OPTIONS]);
    else if (info.kind == "tbf") info.options = decode_tbf(tb[TCA_OPTIONS]);
  }
  ctx->out->push_back(std::move(info));
  return NL_OK;
}

std::map<int, std::string> link_names(NlSocket& sock) {
  std::map<int, std::string> names;
  nl_cache* cache = nullptr;
  const int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &cache);
  if (err < 0) fail_qdisc("listing interfaces", err);
  for (nl_object* obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);
    names[rtnl_link_get_ifindex(link)] = rtnl_link_get_name(link);
  }
  nl_cache_free(cache);
  return names;
}

}  // namespace

std::string handle_text(std::uint32_t handle) {
  char text[24];
  if (handle == 0xffffffffu) return "root";
  if ((handle & 0xffffu) == 0) std::snprintf(text, sizeof text, "%x:", handle >> 16);
  else std::snprintf(text, sizeof text, "%x:%x", handle >> 16, handle & 0xffffu);
  return text;
}

bool is_owned_handle(std::uint32_t handle) {
  const std::uint32_t major = handle & 0xffff0000u;
  return major == kOwnedRootHandle || major == kOwnedChildHandle;
}

nlohmann::json QdiscInfo::to_json() const {
  return {{"dev", dev},     {"kind", kind},   {"handle", handle_text(handle)},
          {"parent", parent == 0xffffffffu ? std::string("root") : handle_text(parent)},
          {"owned", owned}, {"options", options}};
}

std::string QdiscInfo::describe() const {
  std::string text = "qdisc " + kind + " " + handle_text(handle) + " dev " + dev + " " +
                     (parent == 0xffffffffu ? std::string("root") : "parent " + handle_text(parent));
  if (owned) text += " (faultline)";
  if (!options.empty()) text += " " + options.dump();
  return text;
}

// ---- low-level steps --------------------------------------------------------

std::vector<QdiscInfo> list_qdiscs(const std::string& netns, const std::string& dev) {
  NlSocket sock(netns);
  int only = 0;
  if (!dev.empty()) only = ifindex_of(sock, dev);
  auto names = link_names(sock);
  std::vector<QdiscInfo> out;
  DumpContext ctx{&out, &names, only};
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  int err = nl_send_simple(sock.get(), RTM_GETQDISC, NLM_F_DUMP, &tcm, sizeof tcm);
  if (err < 0) fail_qdisc("listing qdiscs", err);
  nl_socket_modify_cb(sock.get(), NL_CB_VALID, NL_CB_CUSTOM, on_qdisc, &ctx);
  err = nl_recvmsgs_default(sock.get());
  if (err < 0) fail_qdisc("listing qdiscs", err);
  return out;
}

std::optional<QdiscInfo> find_at(const std::vector<QdiscInfo>& all, std::uint32_t parent) {
  for (const auto& q : all)
    if (q.parent == parent) return q;
  return std::nullopt;
}

void add_netem_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                     const NetemSpec& spec, bool change) {
  NlSocket sock(netns);
  const int ifindex = ifindex_of(sock, dev);
  // Room for the delay table (4096 x 16 bits) and everything else.
  std::unique_ptr<nl_msg, void (*)(nl_msg*)> msg(nlmsg_alloc_size(64 * 1024), nlmsg_free);
  if (!msg || !nlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, RTM_NEWQDISC, 0,
                         change ? 0 : NLM_F_CREATE | NLM_F_EXCL))
    throw StartupError("netem: out of memory");
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  tcm.tcm_ifindex = ifindex;
  tcm.tcm_handle = handle;
  tcm.tcm_parent = parent;
  bool ok = nlmsg_append(msg.get(), &tcm, sizeof tcm, NLMSG_ALIGNTO) == 0;
  ok = ok && nla_put_string(msg.get(), TCA_KIND, "netem") == 0;

  tc_netem_qopt qopt{};
  qopt.latency = ticks(spec.delay_us);
  qopt.jitter = ticks(spec.jitter_us);
  qopt.limit = spec.limit;
  qopt.loss = spec.partition ? 0xffffffffu : spec.loss ? probability(spec.loss->percent) : 0;
  qopt.gap = spec.gap;
  qopt.duplicate = spec.duplicate ? probability(spec.duplicate->percent) : 0;

  // netem's options are a struct followed by attributes, not a plain nest: open
  // TCA_OPTIONS by hand and fix its length once everything is in.
  auto* options = reinterpret_cast<nlattr*>(nlmsg_tail(nlmsg_hdr(msg.get())));
  ok = ok && nla_put(msg.get(), TCA_OPTIONS, sizeof qopt, &qopt) == 0;

  tc_netem_corr corr{};
  corr.delay_corr = probability(spec.delay_correlation);
  corr.loss_corr = spec.loss ? probability(spec.loss->correlation) : 0;
  corr.dup_corr = spec.duplicate ? probability(spec.duplicate->correlation) : 0;
  ok = ok && nla_put(msg.get(), TCA_NETEM_CORR, sizeof corr, &corr) == 0;

  tc_netem_reorder reorder{};
  if (spec.reorder) {
    reorder.probability = probability(spec.reorder->percent);
    reorder.correlation = probability(spec.reorder->correlation);
  }
  ok = ok && nla_put(msg.get(), TCA_NETEM_REORDER, sizeof reorder, &reorder) == 0;

  tc_netem_corrupt corrupt{};
  if (spec.corrupt) {
    corrupt.probability = probability(spec.corrupt->percent);
    corrupt.correlation = probability(spec.corrupt->correlation);
  }
  ok = ok && nla_put(msg.get(), TCA_NETEM_CORRUPT, sizeof corrupt, &corrupt) == 0;

  if (spec.loss_ge || spec.loss_4state) {
    nlattr* loss = nla_nest_start(msg.get(), TCA_NETEM_LOSS);
    ok = ok && loss;
    if (spec.loss_ge) {
      tc_netem_gemodel ge{};
      ge.p = probability(spec.loss_ge->p);
      ge.r = probability(spec.loss_ge->r);
      ge.h = probability(100 - spec.loss_ge->bad_loss);  // the kernel keeps a packet in the bad state with h
      ge.k1 = probability(spec.loss_ge->good_loss);
      ok = ok && nla_put(msg.get(), NETEM_LOSS_GE, sizeof ge, &ge) == 0;
    } else {
      tc_netem_gimodel gi{};
      gi.p13 = probability(spec.loss_4state->p13);
      gi.p31 = probability(spec.loss_4state->p31);
      gi.p32 = probability(spec.loss_4state->p32);
      gi.p23 = probability(spec.loss_4state->p23);
      gi.p14 = probability(spec.loss_4state->p14);
      ok = ok && nla_put(msg.get(), NETEM_LOSS_GI, sizeof gi, &gi) == 0;
    }
    if (ok) nla_nest_end(msg.get(), loss);
  }

  if (spec.rate_bytes_per_s > 0) {
    tc_netem_rate rate{};
    rate.rate = static_cast<std::uint32_t>(std::min<std::uint64_t>(spec.rate_bytes_per_s, 0xffffffffu));
    rate.packet_overhead = spec.packet_overhead;
    rate.cell_size = spec.cell_size;
    rate.cell_overhead = spec.cell_overhead;
    ok = ok && nla_put(msg.get(), TCA_NETEM_RATE, sizeof rate, &rate) == 0;
    if (spec.rate_bytes_per_s >= 0xffffffffu) ok = ok && nla_put_u64(msg.get(), TCA_NETEM_RATE64, spec.rate_bytes_per_s) == 0;
  }

  ok = ok && nla_put_s64(msg.get(), TCA_NETEM_LATENCY64, spec.delay_us * 1000) == 0;
  ok = ok && nla_put_s64(msg.get(), TCA_NETEM_JITTER64, spec.jitter_us * 1000) == 0;

  if (spec.distribution_set && spec.distribution != Distribution::kUniform) {
    const auto table = make_distribution_table(spec.distribution);
    ok = ok && nla_put(msg.get(), TCA_NETEM_DELAY_DIST, static_cast<int>(table.size() * sizeof(std::int16_t)),
                       table.data()) == 0;
  }
  if (!ok) throw StartupError("netem: the request does not fit in a netlink message");
  options->nla_len = static_cast<std::uint16_t>(reinterpret_cast<char*>(nlmsg_tail(nlmsg_hdr(msg.get()))) -
                                                reinterpret_cast<char*>(options));

  const int err = nl_send_sync(sock.get(), msg.release());
  if (err < 0) {
    const std::string what = std::string(change ? "changing" : "adding") + " netem on " + describe_dev(netns, dev);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOATTR || err == -NLE_OPNOTSUPP)
      throw StartupError(what + ": the kernel lacks sch_netem (" + nl_error_text(err) +
                         "); load it with `modprobe sch_netem`, or run in a VM whose kernel has it "
                         "(`faultline netem probe` tells more)");
    if (err == -NLE_EXIST) throw ConfigError(describe_dev(netns, dev), "already has a qdisc at " + handle_text(handle));
    fail_qdisc(what, err);
  }
}

void add_tbf_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle,
                   const NetemSpec& spec, bool change) {
  if (spec.bandwidth_bytes_per_s > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
    throw ConfigError("bandwidth", "more than 17gbit is not supported by faultline's tbf");
  NlSocket sock(netns);
  const int ifindex = ifindex_of(sock, dev);
  QdiscPtr q = make_qdisc(ifindex, parent, handle, "tbf");
  rtnl_qdisc_tbf_set_rate(q.get(), static_cast<int>(spec.bandwidth_bytes_per_s), static_cast<int>(spec.burst_bytes), 0);
  int err = rtnl_qdisc_tbf_set_limit_by_latency(q.get(), static_cast<int>(spec.bandwidth_latency_us));
  if (err < 0) throw ConfigError("bandwidth latency", nl_error_text(err));
  err = rtnl_qdisc_add(sock.get(), q.get(), change ? NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    const std::string what = std::string(change ? "changing" : "adding") + " tbf on " + describe_dev(netns, dev);
    if (err == -NLE_OBJ_NOTFOUND) throw StartupError(what + ": the kernel lacks sch_tbf (modprobe sch_tbf)");
    if (err == -NLE_EXIST) throw ConfigError(describe_dev(netns, dev), "already has a qdisc at " + handle_text(handle));
    fail_qdisc(what, err);
  }
}

void add_ingress_redirect(const std::string& netns, const std::string& dev, const std::string& ifb) {
  NlSocket sock(netns);
  const int ifindex = ifindex_of(sock, dev);
  const int ifb_index = ifindex_of(sock, ifb);
  QdiscPtr ingress = make_qdisc(ifindex, kIngressParent, kIngressHandle, "ingress");
  int err = rtnl_qdisc_add(sock.get(), ingress.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) fail_qdisc("adding an ingress qdisc on " + describe_dev(netns, dev), err);

  std::unique_ptr<rtnl_cls, void (*)(rtnl_cls*)> cls(rtnl_cls_alloc(), rtnl_cls_put);
  rtnl_tc_set_ifindex(TC_CAST(cls.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(cls.get()), kIngressHandle);
  rtnl_tc_set_kind(TC_CAST(cls.get()), "u32");
  rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
  rtnl_cls_set_prio(cls.get(), 1);
  rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0);  // match every packet
  rtnl_u32_set_cls_terminal(cls.get());            // and run the action on a match
  rtnl_act* act = rtnl_act_alloc();
  rtnl_tc_set_kind(TC_CAST(act), "mirred");
  rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act, static_cast<std::uint32_t>(ifb_index));
  rtnl_u32_add_action(cls.get(), act);
  rtnl_act_put(act);
  err = rtnl_cls_add(sock.get(), cls.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    delete_qdisc(netns, dev, kIngressParent, 0);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP)
      throw StartupError("redirecting ingress of " + describe_dev(netns, dev) +
                         " to " + ifb + ": the kernel lacks cls_u32 or act_mirred (" + nl_error_text(err) + ")");
    fail_qdisc("redirecting ingress of " + describe_dev(netns, dev) + " to " + ifb, err);
  }
}

bool delete_qdisc(const std::string& netns, const std::string& dev, std::uint32_t parent, std::uint32_t handle) {
  NlSocket sock(netns);
  const int ifindex = ifindex_of(sock, dev);
  auto current = find_at(list_qdiscs(netns, dev), parent);
  if (!current || current->handle == 0) return false;  // nothing there but the kernel's default
  if (handle && current->handle != handle) return false;
  QdiscPtr q = make_qdisc(ifindex, parent, 0, nullptr);
  const int err = rtnl_qdisc_delete(sock.get(), q.get());
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR || err == -NLE_INVAL) return false;
  if (err < 0) fail_qdisc("deleting qdisc " + handle_text(current->handle) + " on " + describe_dev(netns, dev), err);
  return true;
}

// ---- undo of journal entries --------------------------------------------------

void undo_entry(const JournalEntry& entry) {
  if (!entry.netns.empty() && !netns_exists(entry.netns)) return;  // went with its namespace
  if (entry.kind == "netns") {
    delete_netns(entry.netns);
  } else if (entry.kind == "link") {
    delete_link(entry.netns, entry.dev);
  } else if (entry.kind == "qdisc") {
    if (!link_exists(entry.netns, entry.dev)) return;
    delete_qdisc(entry.netns, entry.dev, TC_H_ROOT, entry.handle ? entry.handle : kOwnedRootHandle);
  } else if (entry.kind == "ingress") {
    if (!link_exists(entry.netns, entry.dev)) return;
    delete_qdisc(entry.netns, entry.dev, kIngressParent, kIngressHandle);
  }
}

}  // namespace faultline::netem
