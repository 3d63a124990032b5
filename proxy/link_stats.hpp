#pragma once
// Counters of one link, for the report and /metrics: connections, bytes per
// direction, and injections per fault.

#include <cstdint>
#include <map>
#include <string>

namespace faultline {

struct FaultCounters {
  std::string type;
  std::uint64_t injections = 0;
  std::uint64_t connections_selected = 0;  // connections whose probability roll chose this fault
  std::uint64_t connections_skipped = 0;
};

struct LinkStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t connections_failed = 0;  // upstream unreachable and the like
  std::uint64_t bytes_upstream = 0;
  std::uint64_t bytes_downstream = 0;
  std::map<std::string, FaultCounters> faults;  // by fault name
};

}  // namespace faultline
