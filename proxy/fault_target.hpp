#pragma once
// What the fault API needs of a link of any protocol: its name and protocol,
// the faults on it, and adding, replacing and removing one while it runs. A
// change acts on the link's open sessions at once as well as on new ones.
// Called on the runtime's main executor.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/byte_fault_spec.hpp"

namespace faultline {

class FaultTarget {
 public:
  virtual ~FaultTarget() = default;

  virtual const std::string& name() const = 0;
  virtual const std::string& protocol() const = 0;  // tcp, websocket, http or stdio
  // The link as the admin API shows it (Toxiproxy's proxy object): name,
  // listen, upstream, enabled, protocol, toxics.
  virtual nlohmann::json describe() const = 0;

  virtual const std::vector<FaultPtr>& faults() const = 0;
  virtual FaultPtr find_fault(const std::string& name) const = 0;
  // Throws ConfigError (at `pointer`) when this link cannot take the fault.
  virtual void check_fault_fits(const FaultSpec& spec, const std::string& pointer) const = 0;
  virtual void add_fault(FaultPtr spec) = 0;
  // The name by value: callers pass the name inside the spec being replaced or erased.
  virtual void replace_fault(std::string name, FaultPtr spec) = 0;
  virtual void remove_fault(std::string name) = 0;
};

}  // namespace faultline
