#pragma once
// /metrics: the links' counters in Prometheus text exposition format.

#include <string>

namespace faultline {

class LinkRegistry;
std::string render_metrics(const LinkRegistry& links);

}  // namespace faultline
