#include "netem/capture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pcap/sll.h>

#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <tuple>

#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "netem/netlink.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

namespace {

struct FlowKey {
  std::uint32_t src, dst;
  std::uint16_t sport, dport;
  bool operator<(const FlowKey& o) const {
    return std::tie(src, dst, sport, dport) < std::tie(o.src, o.dst, o.sport, o.dport);
  }
};

std::uint32_t read32(const unsigned char* p) { return (std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
std::uint16_t read16(const unsigned char* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

struct Capture::State {
  pcap_t* pcap = nullptr;
  pcap_dumper_t* dumper = nullptr;
  int linktype = DLT_EN10MB;
  std::uint64_t max_bytes = 0;
  std::uint64_t file_bytes = 24;  // the pcap file header
  CaptureSummary summary;
  std::map<FlowKey, std::uint32_t> next_seq;  // highest sequence end seen per flow
  std::atomic<bool> stop{false};

  void on_packet(const pcap_pkthdr* h, const unsigned char* data) {
    summary.packets++;
    summary.bytes += h->len;
    if (dumper) {
      const std::uint64_t need = 16 + h->caplen;
      if (file_bytes + need <= max_bytes) {
        pcap_dump(reinterpret_cast<unsigned char*>(dumper), h, data);
        file_bytes += need;
        summary.written++;
      } else {
        summary.truncated = true;
      }
    }
    inspect(data, h->caplen);
  }

  void inspect(const unsigned char* p, std::uint32_t len) {
    std::uint32_t off;
    std::uint16_t proto;
    if (linktype == DLT_EN10MB) {
      if (len < 14) return;
      proto = read16(p + 12);
      off = 14;
    } else if (linktype == DLT_LINUX_SLL) {
      if (len < 16) return;
      proto = read16(p + 14);
      off = 16;
    } else if (linktype == DLT_RAW) {
      proto = 0x0800;
      off = 0;
    } else {
      return;
    }
    if (proto != 0x0800 || len < off + 20) return;
    const unsigned char* ip = p + off;
    const std::uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if (ip[9] != IPPROTO_TCP || ihl < 20 || len < off + ihl + 20) return;
    const std::uint32_t total = read16(ip + 2);
    const unsigned char* tcp = ip + ihl;
    const std::uint32_t doff = (tcp[12] >> 4) * 4u;
    const std::uint8_t flags = tcp[13];
    if (flags & 0x04) summary.tcp_resets++;
    if (total < ihl + doff) return;
    const std::uint32_t payload = total - ihl - doff;
    const std::uint32_t seq = read32(tcp + 4);
    FlowKey key{read32(ip + 12), read32(ip + 16), read16(tcp), read16(tcp + 2)};
    const std::uint32_t end = seq + payload + ((flags & 0x03) ? 1 : 0);  // SYN and FIN take a number
    auto it = next_seq.find(key);
    if (it == next_seq.end()) {
      next_seq[key] = end;
      return;
    }
    if ((payload > 0 || (flags & 0x03)) && static_cast<std::int32_t>(end - it->second) <= 0) {
      summary.tcp_retransmissions++;
    } else if (static_cast<std::int32_t>(end - it->second) > 0) {
      it->second = end;
    }
  }
};

nlohmann::json CaptureSummary::to_json() const {
  return {{"packets", packets},       {"bytes", bytes},           {"written", written},
          {"retransmissions", tcp_retransmissions}, {"resets", tcp_resets}, {"truncated", truncated}};
}

Capture::Capture(CaptureOptions options, EventLog* events)
    : options_(std::move(options)), events_(events), state_(std::make_unique<State>()) {
  if (options_.snaplen < 64 || options_.snaplen > 262144)
    throw ConfigError("capture snaplen", std::to_string(options_.snaplen) + " is out of range 64..262144");
  if (options_.file.empty()) throw ConfigError("pcap", "no file given");
  state_->max_bytes = options_.max_bytes;
  std::string error;
  // The capture socket belongs to the namespace it is opened in, so open it there.
  run_in_netns(options_.netns, [&] {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_create(options_.dev.c_str(), errbuf);
    if (!p) {
      error = errbuf;
      return;
    }
    pcap_set_snaplen(p, options_.snaplen);
    pcap_set_promisc(p, 0);
    pcap_set_timeout(p, 100);
    pcap_set_immediate_mode(p, 1);
    const int rc = pcap_activate(p);
    if (rc < 0) {
      error = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
              : rc == PCAP_ERROR_PERM_DENIED  ? "permission denied (needs CAP_NET_RAW: run as root)"
                                              : pcap_geterr(p);
      pcap_close(p);
      return;
    }
    state_->pcap = p;
  });
  if (!error.empty()) throw StartupError("capture on " + describe_dev(options_.netns, options_.dev) + ": " + error);
  pcap_t* p = state_->pcap;
  state_->linktype = pcap_datalink(p);
  if (!options_.filter.empty()) {
    bpf_program prog{};
    if (pcap_compile(p, &prog, options_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      const std::string why = pcap_geterr(p);
      pcap_close(p);
      state_->pcap = nullptr;
      throw ConfigError("capture filter '" + options_.filter + "'", why);
    }
    const int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      const std::string why = pcap_geterr(p);
      pcap_close(p);
      state_->pcap = nullptr;
      throw StartupError("capture filter: " + why);
    }
  }
  state_->dumper = pcap_dump_open(p, options_.file.c_str());
  if (!state_->dumper) {
    const std::string why = pcap_geterr(p);
    pcap_close(p);
    state_->pcap = nullptr;
    throw ConfigError("pcap file '" + options_.file + "'", why);
  }
  State* s = state_.get();
  worker_ = std::thread([s] {
    while (!s->stop.load()) {
      const int n = pcap_dispatch(
          s->pcap, -1,
          [](unsigned char* user, const pcap_pkthdr* h, const unsigned char* data) {
            reinterpret_cast<State*>(user)->on_packet(h, data);
          },
          reinterpret_cast<unsigned char*>(s));
      if (n == PCAP_ERROR || n == PCAP_ERROR_BREAK) break;
    }
  });
}

CaptureSummary Capture::stop() {
  if (!stopped_) {
    stopped_ = true;
    state_->stop = true;
    pcap_breakloop(state_->pcap);
    if (worker_.joinable()) worker_.join();
    if (state_->dumper) {
      pcap_dump_close(state_->dumper);
      state_->dumper = nullptr;
    }
    pcap_close(state_->pcap);
    state_->pcap = nullptr;
    if (events_) {
      auto fields = state_->summary.to_json();
      fields["file"] = options_.file;
      fields["dev"] = options_.dev;
      fields["netns"] = options_.netns;
      fields["filter"] = options_.filter;
      events_->emit("net:" + (options_.label.empty() ? options_.dev : options_.label), "netem.capture", fields);
    }
  }
  return state_->summary;
}

Capture::~Capture() {
  try {
    stop();
  } catch (...) {
  }
}

}  // namespace faultline::netem
