#include "runtime/metrics.hpp"

#include <sstream>

#include "runtime/link_registry.hpp"

namespace faultline {
namespace {

// Label values escape backslash, quote and newline.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string render_metrics(const LinkRegistry& links) {
  std::ostringstream out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  family("faultline_link_up", "gauge", "1 while the link accepts connections");
  for (const auto& [name, link] : links.links())
    out << "faultline_link_up{link=\"" << label(name) << "\"} " << (link->listening() ? 1 : 0) << '\n';
  family("faultline_connections_open", "gauge", "Connections open through the link");
  for (const auto& [name, link] : links.links())
    out << "faultline_connections_open{link=\"" << label(name) << "\"} " << link->stats().connections_open << '\n';
  family("faultline_connections_total", "counter", "Connections accepted by the link");
  for (const auto& [name, link] : links.links())
    out << "faultline_connections_total{link=\"" << label(name) << "\"} " << link->stats().connections_total << '\n';
  family("faultline_connections_failed_total", "counter", "Connections whose upstream could not be reached");
  for (const auto& [name, link] : links.links())
    out << "faultline_connections_failed_total{link=\"" << label(name) << "\"} " << link->stats().connections_failed
        << '\n';
  family("faultline_bytes_total", "counter", "Bytes delivered, by direction");
  for (const auto& [name, link] : links.links()) {
    out << "faultline_bytes_total{link=\"" << label(name) << "\",direction=\"upstream\"} "
        << link->stats().bytes_upstream << '\n';
    out << "faultline_bytes_total{link=\"" << label(name) << "\",direction=\"downstream\"} "
        << link->stats().bytes_downstream << '\n';
  }
  family("faultline_faults_active", "gauge", "Faults configured on the link");
  for (const auto& [name, link] : links.links())
    out << "faultline_faults_active{link=\"" << label(name) << "\"} " << link->faults().size() << '\n';
  family("faultline_fault_injections_total", "counter", "Injections, by fault");
  for (const auto& [name, link] : links.links())
    for (const auto& [fault, c] : link->stats().faults())
      out << "faultline_fault_injections_total{link=\"" << label(name) << "\",fault=\"" << label(fault)
          << "\",type=\"" << label(c.type) << "\"} " << c.injections << '\n';
  return out.str();
}

}  // namespace faultline
