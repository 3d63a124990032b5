#pragma once
// Netlink plumbing shared by the netem/ layer: a route socket opened inside a
// chosen network namespace, and running a piece of work inside a namespace on a
// short-lived thread so the caller's own thread never changes namespace.

#include <functional>
#include <memory>
#include <string>

struct nl_sock;

namespace faultline::netem {

// A NETLINK_ROUTE socket bound to one network namespace (the one it was opened in).
class NlSocket {
 public:
  // Opens the socket in `netns` (a name under /var/run/netns), or in the
  // caller's namespace when `netns` is empty. Throws on failure.
  explicit NlSocket(const std::string& netns = {});
  ~NlSocket();
  NlSocket(const NlSocket&) = delete;
  NlSocket& operator=(const NlSocket&) = delete;

  nl_sock* get() const { return sock_; }
  const std::string& netns() const { return netns_; }

 private:
  nl_sock* sock_ = nullptr;
  std::string netns_;
};

// Runs `work` on a new thread that first joined `netns` (empty: stays in the
// caller's namespace). Exceptions thrown by `work` are rethrown here.
void run_in_netns(const std::string& netns, const std::function<void()>& work);

// libnl's message for a (negative or positive) libnl error code.
std::string nl_error_text(int err);

// "interface 'x' in netns 'y'" / "interface 'x'" for error messages.
std::string describe_dev(const std::string& netns, const std::string& dev);

}  // namespace faultline::netem
