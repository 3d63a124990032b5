#include "netem/netlink.hpp"

#include <exception>
#include <thread>

#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "core/errors.hpp"
#include "netem/netns.hpp"

namespace faultline::netem {

std::string nl_error_text(int err) { return nl_geterror(err < 0 ? -err : err); }

std::string describe_dev(const std::string& netns, const std::string& dev) {
  std::string text = "interface '" + dev + "'";
  if (!netns.empty()) text += " in netns '" + netns + "'";
  return text;
}

void run_in_netns(const std::string& netns, const std::function<void()>& work) {
  if (netns.empty()) {
    work();
    return;
  }
  // Open the namespace file here so a missing namespace is reported before any thread starts.
  NetnsFd fd = open_netns(netns);
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      enter_netns(fd, netns);
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

NlSocket::NlSocket(const std::string& netns) : netns_(netns) {
  sock_ = nl_socket_alloc();
  if (!sock_) throw StartupError("netlink: out of memory allocating a socket");
  int err = 0;
  run_in_netns(netns, [&] { err = nl_connect(sock_, NETLINK_ROUTE); });
  if (err < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    throw StartupError("netlink: cannot open a route socket" +
                       (netns.empty() ? std::string() : " in netns '" + netns + "'") + ": " +
                       nl_error_text(err));
  }
}

NlSocket::~NlSocket() {
  if (sock_) nl_socket_free(sock_);
}

}  // namespace faultline::netem
