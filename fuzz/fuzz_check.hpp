#pragma once
// Shared checks for the libFuzzer targets: a broken invariant aborts, so the
// fuzzer saves the input that broke it.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mcp/frame.hpp"

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

namespace faultline::fuzz {

// What every decoded frame must satisfy, whatever the input.
inline void check_frame(const mcp::Frame& frame) {
  FUZZ_CHECK((frame.kind == mcp::FrameKind::invalid) == frame.problem.has_value());
  if (frame.problem) {
    (void)nlohmann::json(frame.problem->reason).dump();  // reportable: valid UTF-8
  }
  if (frame.parsed) (void)frame.message.dump();  // parsed messages hold valid UTF-8 only
  if (frame.kind == mcp::FrameKind::request || frame.kind == mcp::FrameKind::notification) {
    FUZZ_CHECK(frame.message.at("method").get_ref<const std::string&>() == frame.method);
  }
  if (frame.kind == mcp::FrameKind::request) FUZZ_CHECK(frame.id.present());
  if (frame.kind == mcp::FrameKind::notification) FUZZ_CHECK(!frame.id.present());
  if (frame.kind == mcp::FrameKind::response) FUZZ_CHECK(frame.id.present() && !frame.id.is_null());
  if (frame.batch && frame.batch->text) {
    const auto& text = *frame.batch->text;
    FUZZ_CHECK(frame.batch->offset_in_batch + frame.raw.size() <= text.size());
    FUZZ_CHECK(text.compare(frame.batch->offset_in_batch, frame.raw.size(), frame.raw) == 0);
    FUZZ_CHECK(nlohmann::json::parse(frame.raw) == frame.message);
  }
}

}  // namespace faultline::fuzz
