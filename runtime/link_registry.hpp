#pragma once
// The named network links of one run (tcp, websocket, http), with the
// operations of Toxiproxy's API on them: create, update, delete, populate,
// reset. Errors are thrown as ErrorException with a kind (invalid, not_found,
// conflict, failed) and the JSON pointer; callers choose what a kind means (the
// admin API: 400, 404, 409, 500). Faults are changed through the FaultApi.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "proxy/link.hpp"

namespace faultline {

class LinkRegistry {
 public:
  LinkRegistry(boost::asio::any_io_executor ex, ProxyEnv& env) : ex_(std::move(ex)), env_(env) {}

  // Toxiproxy's proxy object {name, listen, upstream, enabled}, plus optional
  // "toxics" (faultline's config files). Throws ErrorException.
  std::shared_ptr<Link> create(const nlohmann::json& body, const std::string& pointer = "");
  std::vector<std::shared_ptr<Link>> populate(const nlohmann::json& body);
  // Checks a populate body as populate does, starting nothing; throws
  // ConfigError naming the JSON pointer ("/1/upstream").
  static void check_populate(const nlohmann::json& body);
  std::shared_ptr<Link> update(const std::string& name, const nlohmann::json& body);
  void remove(const std::string& name);
  void reset();
  void stop_all(const std::string& reason);
  // Every link stops listening and its sessions deliver what they hold, then close.
  void drain_all(std::chrono::milliseconds grace, const std::string& reason);
  // Sessions not yet closed, on every link including deleted ones.
  std::size_t open_sessions() const;

  std::shared_ptr<Link> find(const std::string& name) const;  // throws not_found
  // The link, or null.
  std::shared_ptr<Link> get(const std::string& name) const;
  const std::map<std::string, std::shared_ptr<Link>>& links() const { return links_; }

  static nlohmann::json link_json(const Link& link);

 private:
  struct Parsed {
    LinkConfig config;
    std::vector<std::shared_ptr<const FaultSpec>> faults;
  };
  static Parsed parse(const nlohmann::json& body, const std::string& pointer);
  static std::vector<Parsed> parse_all(const nlohmann::json& body);
  std::shared_ptr<Link> start_link(Parsed parsed);

  boost::asio::any_io_executor ex_;
  ProxyEnv& env_;
  std::map<std::string, std::shared_ptr<Link>> links_;
};

}  // namespace faultline
