#include "proxy/proxy_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errors.hpp"
#include "core/json_depth.hpp"

namespace faultline {
namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string too_big(const std::string& size) {
  return "is " + size + " bytes; a config file may hold at most 16 MiB (" + std::to_string(kMaxJsonFileBytes) +
         " bytes)";
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The file's bytes: a regular file of at most kMaxJsonFileBytes.
std::string read_regular_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) throw ConfigError(path, std::string("cannot open file: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw ConfigError(path, std::string("cannot read file: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw ConfigError(path, "is a directory, not a JSON file");
  if (!S_ISREG(st.st_mode)) throw ConfigError(path, std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxJsonFileBytes) throw ConfigError(path, too_big(std::to_string(st.st_size)));
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t have = 0;
  for (;;) {
    if (have == text.size()) {  // the file grew since fstat (or its size was not told)
      if (text.size() > kMaxJsonFileBytes) throw ConfigError(path, too_big("more than " + std::to_string(kMaxJsonFileBytes)));
      text.resize(std::min<std::size_t>(text.size() * 2 + 4096, kMaxJsonFileBytes + 1));
    }
    const auto n = ::read(fd.get(), text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(path, std::string("cannot read file: ") + std::strerror(errno));
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  text.resize(have);
  return text;
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_regular_file(path);
  if (const auto at = json_too_deep_at(text); at != std::string::npos)
    throw ConfigError(path, "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels (at byte " +
                                std::to_string(at) + ")");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line L, column C: ..."
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
    throw ConfigError(path, what);
  } catch (const nlohmann::json::exception& e) {  // a number too large for a double, say
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
    throw ConfigError(path, what);
  }
}

}  // namespace faultline
