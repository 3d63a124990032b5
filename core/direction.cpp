#include "core/direction.hpp"

namespace faultline {

std::string_view to_string(Direction d) { return d == Direction::upstream ? "upstream" : "downstream"; }

}  // namespace faultline
