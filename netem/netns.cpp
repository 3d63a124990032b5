#include "netem/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>

#include "core/errors.hpp"
#include "netem/links.hpp"

namespace faultline::netem {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string netns_path(const std::string& name) { return std::string(netns_run_dir()) + "/" + name; }

// Makes /var/run/netns a shared mount point, as iproute2 does, so namespaces
// mounted there are seen by every mount namespace that shares it.
void prepare_run_dir() {
  const char* dir = netns_run_dir();
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    throw StartupError(std::string("cannot create ") + dir + ": " + errno_text(errno));
  if (mount("", dir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) return;  // not fatal: a private mount still works for this mount namespace
  if (mount(dir, dir, "none", MS_BIND | MS_REC, nullptr) == 0)
    mount("", dir, "none", MS_SHARED | MS_REC, nullptr);
}

}  // namespace

NetnsFd::~NetnsFd() {
  if (fd_ >= 0) close(fd_);
}

NetnsFd& NetnsFd::operator=(NetnsFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

const char* netns_run_dir() { return "/var/run/netns"; }

void check_netns_name(const std::string& name) {
  if (name.empty()) throw ConfigError("netns", "a network namespace name is empty");
  if (name.size() > 200) throw ConfigError("netns '" + name + "'", "name is longer than 200 characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) throw ConfigError("netns '" + name + "'", "name may hold only letters, digits, '-', '_' and '.'");
  }
  if (name == "." || name == "..") throw ConfigError("netns '" + name + "'", "not a namespace name");
}

bool netns_exists(const std::string& name) {
  struct stat st {};
  return stat(netns_path(name).c_str(), &st) == 0;
}

std::vector<std::string> list_netns(const std::string& prefix) {
  std::vector<std::string> names;
  DIR* dir = opendir(netns_run_dir());
  if (!dir) return names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name.compare(0, prefix.size(), prefix) == 0) names.push_back(name);
  }
  closedir(dir);
  return names;
}

NetnsFd open_netns(const std::string& name) {
  check_netns_name(name);
  int fd = open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw ConfigError("netns '" + name + "'", "no such network namespace");
    throw StartupError("netns '" + name + "': cannot open: " + errno_text(errno));
  }
  return NetnsFd(fd);
}

void enter_netns(const NetnsFd& fd, const std::string& name) {
  if (setns(fd.get(), CLONE_NEWNET) != 0) {
    const int err = errno;
    if (err == EPERM)
      throw StartupError("netns '" + name + "': cannot enter: missing CAP_NET_ADMIN/CAP_SYS_ADMIN (run as root)");
    if (err == EINVAL) throw ConfigError("netns '" + name + "'", "not a network namespace");
    throw StartupError("netns '" + name + "': cannot enter: " + errno_text(err));
  }
}

void create_netns(const std::string& name) {
  check_netns_name(name);
  prepare_run_dir();
  const std::string path = netns_path(name);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) throw ConfigError("netns '" + name + "'", "a network namespace of that name exists already");
    if (errno == EACCES || errno == EPERM)
      throw StartupError("netns '" + name + "': cannot create " + path + ": missing privilege (run as root)");
    throw StartupError("netns '" + name + "': cannot create " + path + ": " + errno_text(errno));
  }
  close(fd);

  std::string failure;
  std::thread maker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      failure = errno == EPERM ? std::string("unshare: missing CAP_SYS_ADMIN (run as root)")
                               : "unshare: " + errno_text(errno);
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      failure = "bind-mount on " + path + ": " + errno_text(errno);
      return;
    }
  });
  maker.join();
  if (!failure.empty()) {
    unlink(path.c_str());
    throw StartupError("netns '" + name + "': " + failure);
  }
  try {
    set_link_up(name, "lo");
  } catch (...) {
    delete_netns(name);
    throw;
  }
}

bool delete_netns(const std::string& name) {
  check_netns_name(name);
  const std::string path = netns_path(name);
  if (!netns_exists(name)) return false;
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    throw StartupError("netns '" + name + "': cannot unmount: " + errno_text(errno));
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    throw StartupError("netns '" + name + "': cannot remove " + path + ": " + errno_text(errno));
  return true;
}

}  // namespace faultline::netem
