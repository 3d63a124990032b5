#pragma once
// The one clock of a run: monotonic, so a fault's timing never jumps with the
// wall clock. Events carry wall time separately.

#include <chrono>

namespace faultline {

using Clock = std::chrono::steady_clock;

}  // namespace faultline
