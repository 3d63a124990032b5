#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

constexpr FaultType kFaultTypes[] = {
    {"latency", "delay every chunk by latency ms (+/- jitter ms), measured from its arrival", make_latency_fault},
    {"bandwidth", "limit throughput to rate KB/s", make_bandwidth_fault},
    {"slicer", "cut chunks into pieces of average_size +/- size_variation bytes, delay us apart", make_slicer_fault},
    {"slow_close", "delay the close (FIN) by delay ms", make_slow_close_fault},
    {"timeout", "stop forwarding; close after timeout ms, or hold forever with 0", make_timeout_fault},
    {"reset_peer", "reset the connection (RST) timeout ms after the first data", make_reset_peer_fault},
    {"limit_data", "close the connection after bytes bytes", make_limit_data_fault},
    {"down", "refuse new connections and close the open ones", make_down_fault},
    {"half_open", "bytes vanish, no FIN, no RST: both sockets stay open", make_half_open_fault},
    {"slow_open", "delay the upstream connect by delay ms", make_slow_open_fault},
};

}  // namespace

std::span<const FaultType> fault_types() { return kFaultTypes; }

const FaultType* find_fault_type(std::string_view name) {
  for (const auto& type : kFaultTypes)
    if (type.name == name) return &type;
  return nullptr;
}

}  // namespace faultline
