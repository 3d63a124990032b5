#include "core/result.hpp"

namespace faultline {

std::string_view to_string(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::invalid: return "invalid";
    case Error::Kind::not_found: return "not_found";
    case Error::Kind::conflict: return "conflict";
    case Error::Kind::failed: return "failed";
  }
  return "failed";
}

}  // namespace faultline
