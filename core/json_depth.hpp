#pragma once
// A bound on how deeply a JSON text nests, checked before anything builds a
// DOM from it: copying, dumping or comparing a nlohmann::json recurses once per
// level, so a hostile 100,000-level text would overflow a worker's stack.
// One linear pass over the bytes, strings skipped, no allocation.

#include <cstddef>
#include <string_view>

namespace faultline {

// Deeper than any real JSON-RPC message (MCP tool schemas nest a few dozen
// levels at most), shallow enough for every recursive walk of the DOM.
inline constexpr std::size_t kMaxJsonDepth = 512;

// Offset of the first '[' or '{' that opens level max_depth + 1, or npos when
// the text nests no deeper than max_depth. Works on any bytes: invalid JSON is
// scanned as far as brackets outside strings go.
std::size_t json_too_deep_at(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

}  // namespace faultline
