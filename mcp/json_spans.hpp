#pragma once
// Byte spans inside a JSON text that is already known to be valid: the members
// of a top-level array (to give each batch member its exact raw bytes) and the
// position of a top-level object key (to point an error at the bad member).
// Iterative, no allocation; nlohmann's DOM does not keep positions.

#include <cstddef>
#include <string_view>
#include <vector>

namespace faultline::mcp {

struct ByteSpan {
  std::size_t begin = 0;  // offset of the first byte
  std::size_t end = 0;    // offset one past the last byte
};

// Spans of the elements of a top-level array, without surrounding whitespace.
// `text` must be valid JSON whose first non-whitespace byte is '['.
void array_element_spans(std::string_view text, std::vector<ByteSpan>& out);

// Offset of the opening quote of the top-level object key spelled exactly
// `"key"` in `text`, or npos. `text` must be valid JSON.
std::size_t top_level_key_offset(std::string_view text, std::string_view key);

}  // namespace faultline::mcp
