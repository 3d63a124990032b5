#pragma once
// The two directions of a link.

#include <string_view>

namespace faultline {

enum class Direction { upstream, downstream };  // client -> server, server -> client

std::string_view to_string(Direction d);

inline Direction other(Direction d) { return d == Direction::upstream ? Direction::downstream : Direction::upstream; }

}  // namespace faultline
