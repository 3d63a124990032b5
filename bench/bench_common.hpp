#pragma once
// Shared helpers for the faultline benchmark tools (bench/): command-line flags,
// loopback endpoints, the open-file limit, percentiles and /proc memory figures.
// Self-contained on purpose: the tools build even when the rest of the tree does not.

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace faultline::bench {

// `--key value` pairs after the mode word; `--flag` alone maps to "1".
class Flags {
 public:
  Flags(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg.substr(0, 2) != "--") throw std::invalid_argument("unexpected argument: " + std::string(arg));
      std::string key(arg.substr(2));
      const bool has_value = i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--";
      values_.insert_or_assign(std::move(key), std::string(has_value ? argv[++i] : "1"));
    }
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    auto it = values_.find(key);
    used_.push_back(key);
    return it == values_.end() ? fallback : it->second;
  }

  std::string required(const std::string& key) const {
    auto it = values_.find(key);
    used_.push_back(key);
    if (it == values_.end()) throw std::invalid_argument("missing --" + key);
    return it->second;
  }

  std::int64_t number(const std::string& key, std::int64_t fallback) const {
    auto it = values_.find(key);
    used_.push_back(key);
    if (it == values_.end()) return fallback;
    std::int64_t value = 0;
    const auto& s = it->second;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) {
      throw std::invalid_argument("--" + key + " wants an integer, got '" + s + "'");
    }
    return value;
  }

  // Call after reading every flag: rejects flags nobody asked about (typos).
  void reject_unknown() const {
    for (const auto& [key, value] : values_) {
      if (std::find(used_.begin(), used_.end(), key) == used_.end()) {
        throw std::invalid_argument("unknown flag --" + key);
      }
    }
  }

 private:
  std::map<std::string, std::string> values_;
  mutable std::vector<std::string> used_;
};

// "127.0.0.1:9000" -> endpoint. Numeric addresses only: the benchmarks stay on loopback.
inline boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("want HOST:PORT, got '" + text + "'");
  unsigned port = 0;
  auto port_text = std::string_view(text).substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    throw std::invalid_argument("bad port in '" + text + "'");
  }
  return {boost::asio::ip::make_address(text.substr(0, colon)), static_cast<unsigned short>(port)};
}

// Raises the soft open-file limit towards `wanted` (capped by the hard limit); returns the new soft limit.
inline std::uint64_t raise_nofile(std::uint64_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  rlim_t target = wanted;
  if (lim.rlim_max != RLIM_INFINITY && target > lim.rlim_max) target = lim.rlim_max;
  if (target > lim.rlim_cur) {
    lim.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

// Nearest-rank percentile of an ascending vector; q in [0, 1].
template <typename T>
T percentile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return T{};
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Memory figures of a process from /proc/PID/status, in KiB (-1 when unreadable).
struct ProcessMemory {
  long rss_kib = -1;
  long hwm_kib = -1;
};

inline ProcessMemory read_process_memory(long pid) {
  ProcessMemory mem;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto field = [&](std::string_view name, long& out) {
      if (line.rfind(name, 0) == 0) out = std::stol(line.substr(name.size()));
    };
    field("VmRSS:", mem.rss_kib);
    field("VmHWM:", mem.hwm_kib);
  }
  return mem;
}

}  // namespace faultline::bench
