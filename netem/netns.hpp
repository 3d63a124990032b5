#pragma once
// Named network namespaces, made the way `ip netns add` makes them: a thread
// unshares its network namespace and bind-mounts it on /var/run/netns/NAME, so
// the namespace outlives the thread and any tool (ip, faultline) can enter it.

#include <string>
#include <vector>

namespace faultline::netem {

// An open namespace file descriptor, closed on destruction.
class NetnsFd {
 public:
  explicit NetnsFd(int fd = -1) : fd_(fd) {}
  ~NetnsFd();
  NetnsFd(NetnsFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  NetnsFd& operator=(NetnsFd&& other) noexcept;
  NetnsFd(const NetnsFd&) = delete;
  NetnsFd& operator=(const NetnsFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The folder holding named namespaces (/var/run/netns).
const char* netns_run_dir();

// Throws ConfigError unless `name` is a usable namespace name.
void check_netns_name(const std::string& name);

bool netns_exists(const std::string& name);
std::vector<std::string> list_netns(const std::string& prefix = {});

// Opens /var/run/netns/NAME; ConfigError naming it when there is no such namespace.
NetnsFd open_netns(const std::string& name);

// Moves the calling thread into the namespace (setns). Throws on failure.
void enter_netns(const NetnsFd& fd, const std::string& name);

// Creates a named namespace with its loopback up. ConfigError if it exists already.
void create_netns(const std::string& name);

// Removes a named namespace (its links go with it). Returns false if it did not exist.
bool delete_netns(const std::string& name);

}  // namespace faultline::netem
