#pragma once
// The one way faults change during a run: add, change, remove and list the
// faults of a link by name, byte and frame faults alike, on a link of any
// protocol (the network links of the LinkRegistry and the stdio links attached
// here). Every operation returns a Result: the fault, or an Error with its kind
// and the JSON pointer of the bad value in the request. The admin HTTP API,
// `wrap --api` and the scenario timeline are its callers. Runs on the runtime's
// main executor.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "proxy/fault_target.hpp"

namespace faultline {

class LinkRegistry;

class FaultApi {
 public:
  explicit FaultApi(LinkRegistry& links) : links_(links) {}

  // A link that is not in the LinkRegistry (a stdio link) becomes reachable by
  // its name. A name taken by another link is a conflict.
  Result<void> attach(std::shared_ptr<FaultTarget> target);
  void detach(const std::string& link);

  Result<std::vector<FaultPtr>> list(const std::string& link) const;
  Result<FaultPtr> get(const std::string& link, const std::string& fault) const;
  // `body` is a fault object ({"type", "name", "stream", "toxicity", "match",
  // "attributes", ...}); errors point into it below `pointer`.
  Result<FaultPtr> add(const std::string& link, const nlohmann::json& body, const std::string& pointer = "");
  // Merges `patch` into the fault's settings (Toxiproxy's update): attributes,
  // toxicity, stream, match; the name and type stay.
  Result<FaultPtr> change(const std::string& link, const std::string& fault, const nlohmann::json& patch);
  Result<void> remove(const std::string& link, const std::string& fault);
  // Removes every fault of every link.
  void clear();

  // Whether a link of this name exists (of any protocol).
  bool has_link(const std::string& link) const { return target(link) != nullptr; }
  // The links attached here (not in the LinkRegistry), by name.
  const std::map<std::string, std::shared_ptr<FaultTarget>>& attached() const { return attached_; }

 private:
  FaultTarget* target(const std::string& link) const;
  Result<FaultTarget*> find(const std::string& link) const;

  LinkRegistry& links_;
  std::map<std::string, std::shared_ptr<FaultTarget>> attached_;
};

}  // namespace faultline
