#pragma once
// What every link of one proxy run shares: the event log and the run seed.

#include <cstdint>

#include "core/event_log.hpp"

namespace faultline {

struct ProxyEnv {
  EventLog& events;
  std::uint64_t seed = 0;
  std::size_t max_queued_bytes = 8u << 20;  // per direction, before reading pauses
};

}  // namespace faultline
