#pragma once
// The named links of one proxy run, with the operations of Toxiproxy's API:
// create, update, delete, populate, reset, and faults per link. Errors carry
// the HTTP status the admin API answers with (400, 404, 409, 500).

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proxy/link.hpp"

namespace faultline {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class LinkRegistry {
 public:
  LinkRegistry(boost::asio::any_io_executor ex, ProxyEnv& env) : ex_(std::move(ex)), env_(env) {}

  // Toxiproxy's proxy object {name, listen, upstream, enabled}, plus optional
  // "toxics" (faultline's config files). Throws ApiError.
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

  std::shared_ptr<Link> find(const std::string& name) const;  // throws 404
  const std::map<std::string, std::shared_ptr<Link>>& links() const { return links_; }

  std::shared_ptr<const FaultSpec> add_fault(const std::string& link, const nlohmann::json& body);
  std::shared_ptr<const FaultSpec> update_fault(const std::string& link, const std::string& fault,
                                                const nlohmann::json& body);
  void remove_fault(const std::string& link, const std::string& fault);
  std::shared_ptr<const FaultSpec> find_fault(const std::string& link, const std::string& fault) const;

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
