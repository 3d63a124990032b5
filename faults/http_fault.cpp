#include "faults/http_fault.hpp"

namespace faultline {

std::string http_error_body(std::int64_t code, std::string_view message) {
  return nlohmann::json({{"jsonrpc", "2.0"}, {"error", {{"code", code}, {"message", message}}}, {"id", nullptr}}).dump();
}

}  // namespace faultline
