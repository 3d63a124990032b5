#pragma once
// The explicit list of fault types, by their JSON `type` name. Each entry
// builds a validated ByteFault from an attributes object. (An explicit list:
// static registrars in static libraries get dropped by the linker.)

#include <memory>
#include <span>
#include <string_view>

#include "faults/attribute_reader.hpp"
#include "faults/byte_fault.hpp"

namespace faultline {

struct FaultType {
  std::string_view name;
  std::string_view summary;
  std::shared_ptr<const ByteFault> (*make)(AttributeReader& attributes);
};

std::span<const FaultType> fault_types();
const FaultType* find_fault_type(std::string_view name);

// One factory per fault file.
std::shared_ptr<const ByteFault> make_latency_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_bandwidth_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_slicer_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_slow_close_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_timeout_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_reset_peer_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_limit_data_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_down_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_half_open_fault(AttributeReader&);
std::shared_ptr<const ByteFault> make_slow_open_fault(AttributeReader&);

}  // namespace faultline
