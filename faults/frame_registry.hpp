#pragma once
// The explicit list of frame fault types, by their JSON `type` name: each entry
// builds a validated FrameFault from its attributes and says which directions
// it may sit in. (An explicit list: static registrars in static libraries get
// dropped by the linker.)

#include <memory>
#include <span>
#include <string_view>

#include "faults/attribute_reader.hpp"
#include "faults/frame_fault.hpp"

namespace faultline {

enum class DirectionRule { any, upstream_only, downstream_only };

// The transports a frame fault type works on (a bit set).
enum Transport : unsigned { kStdio = 1, kWebSocket = 2, kHttp = 4, kAnyTransport = 7 };
// The bit of a link protocol or transport name ("stdio", "websocket", "http"); 0 for others.
unsigned transport_bit(std::string_view name);

struct FrameFaultType {
  std::string_view name;
  std::string_view summary;
  Direction default_direction;
  DirectionRule rule;
  std::shared_ptr<const FrameFault> (*make)(AttributeReader& attributes);
  unsigned transports = kAnyTransport;
};

std::span<const FrameFaultType> frame_fault_types();
const FrameFaultType* find_frame_fault_type(std::string_view name);

// One factory per fault file.
std::shared_ptr<const FrameFault> make_drop_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_delay_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_duplicate_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_reorder_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_error_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_late_response_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_malformed_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_banner_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_close_stdout_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_kill_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_stop_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_continue_frame_fault(AttributeReader&);
// HTTP faults (faults/http_*_frame_fault.cpp, interface in http_fault.hpp).
std::shared_ptr<const FrameFault> make_forget_session_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_unknown_session_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_get_405_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_close_sse_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_strip_event_ids_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_rewrite_retry_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_ws_close_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_swallow_pongs_frame_fault(AttributeReader&);
std::shared_ptr<const FrameFault> make_fragment_frame_fault(AttributeReader&);

}  // namespace faultline
