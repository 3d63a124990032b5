#include "netem/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/errors.hpp"
#include "core/event_log.hpp"

namespace faultline::netem {

namespace {

// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); 0 if gone.
std::uint64_t process_start(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string field;
  // Fields after the name start at field 3 (state); the start time is field 22.
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

// Holds an exclusive flock on DIR/journal.lock for its lifetime.
class JournalLock {
 public:
  explicit JournalLock(const std::string& dir) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw StartupError("journal: cannot create " + dir + ": " + std::strerror(errno));
    const std::string path = dir + "/journal.lock";
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw StartupError("journal: cannot open " + path + ": " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~JournalLock() { close(fd_); }
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;

 private:
  int fd_ = -1;
};

std::string journal_path(const std::string& dir) { return dir + "/journal.json"; }

std::vector<JournalEntry> load(const std::string& dir) {
  std::vector<JournalEntry> out;
  std::ifstream in(journal_path(dir));
  if (!in) return out;
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().empty()) return out;
  nlohmann::json doc = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_array())
    throw StartupError("journal " + journal_path(dir) + " is corrupt; inspect it, remove what it lists by hand, then delete it");
  for (const auto& j : doc) out.push_back(JournalEntry::from_json(j));
  return out;
}

void store(const std::string& dir, const std::vector<JournalEntry>& entries) {
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& e : entries) doc.push_back(e.to_json());
  const std::string path = journal_path(dir);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(1) << "\n";
    out.flush();
    if (!out) throw StartupError("journal: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw StartupError("journal: cannot replace " + path + ": " + std::strerror(errno));
}

std::string new_id() {
  static std::mt19937_64 gen{std::random_device{}()};
  std::ostringstream out;
  out << std::hex << getpid() << "-" << gen();
  return out.str();
}

// Undoes the entries of `all` matching `pred`, newest first, strikes them out
// and stores the rest; the caller holds the lock.
std::vector<JournalEntry> undo_loaded(const std::string& dir, std::vector<JournalEntry>& all,
                                      const std::function<bool(const JournalEntry&)>& pred, EventLog* events) {
  std::vector<JournalEntry> removed;
  std::string first_error;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (!pred(*it)) continue;
    try {
      undo_entry(*it);
      removed.push_back(*it);
    } catch (const std::exception& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  std::erase_if(all, [&](const JournalEntry& e) {
    for (const auto& r : removed)
      if (r.id == e.id) return true;
    return false;
  });
  store(dir, all);
  if (events)
    for (const auto& e : removed)
      events->emit("net:" + (e.label.empty() ? e.dev : e.label), "netem.cleanup", e.to_json());
  if (!first_error.empty()) throw StartupError("cleanup left something behind: " + first_error);
  return removed;
}

std::string where_of(const JournalEntry& e) {
  if (e.kind == "netns") return e.netns;
  return (e.netns.empty() ? "" : e.netns + "/") + e.dev;
}

// Whether removing kept entry `kept` takes `live` with it: the same namespace,
// a namespace of the same topology, or the same device in the root namespace.
bool goes_with(const JournalEntry& kept, const JournalEntry& live, const std::vector<JournalEntry>& all) {
  if (!kept.netns.empty() && kept.netns == live.netns) return true;
  if (kept.netns.empty() && live.netns.empty() && !kept.dev.empty() && kept.dev == live.dev) return true;
  if (kept.topology.empty()) return false;
  if (live.topology == kept.topology) return true;
  for (const auto& e : all)
    if (e.topology == kept.topology && !e.netns.empty() && e.netns == live.netns) return true;
  return false;
}

}  // namespace

nlohmann::json JournalEntry::to_json() const {
  return {{"id", id},         {"kind", kind},         {"netns", netns},         {"dev", dev},
          {"handle", handle}, {"spec", spec},         {"label", label},         {"topology", topology},
          {"owner_pid", owner_pid}, {"owner_start", owner_start}};
}

JournalEntry JournalEntry::from_json(const nlohmann::json& j) {
  JournalEntry e;
  e.id = j.value("id", "");
  e.kind = j.value("kind", "");
  e.netns = j.value("netns", "");
  e.dev = j.value("dev", "");
  e.handle = j.value("handle", 0u);
  e.spec = j.value("spec", "");
  e.label = j.value("label", "");
  e.topology = j.value("topology", "");
  e.owner_pid = j.value("owner_pid", 0);
  e.owner_start = j.value("owner_start", std::uint64_t{0});
  return e;
}

std::string Journal::default_dir() {
  const char* env = std::getenv("FAULTLINE_STATE_DIR");
  return env && *env ? std::string(env) : std::string("/run/faultline");
}

Journal::Journal(std::string dir) : dir_(std::move(dir)) {}

std::string Journal::add(JournalEntry entry) {
  JournalLock lock(dir_);
  auto all = load(dir_);
  if (entry.id.empty()) entry.id = new_id();
  all.push_back(entry);
  store(dir_, all);
  return entry.id;
}

void Journal::remove(const std::string& id) {
  JournalLock lock(dir_);
  auto all = load(dir_);
  std::erase_if(all, [&](const JournalEntry& e) { return e.id == id; });
  store(dir_, all);
}

void Journal::update_spec(const std::string& id, const std::string& spec) {
  JournalLock lock(dir_);
  auto all = load(dir_);
  for (auto& e : all)
    if (e.id == id) e.spec = spec;
  store(dir_, all);
}

std::vector<JournalEntry> Journal::entries() const {
  JournalLock lock(dir_);
  return load(dir_);
}

void Journal::set_owner(JournalEntry& entry, bool persistent) {
  if (persistent) {
    entry.owner_pid = 0;
    entry.owner_start = 0;
    return;
  }
  entry.owner_pid = static_cast<int>(getpid());
  entry.owner_start = process_start(entry.owner_pid);
}

bool Journal::owner_alive(const JournalEntry& entry) {
  if (entry.owner_pid <= 0) return true;  // kept on purpose
  const std::uint64_t start = process_start(entry.owner_pid);
  return start != 0 && start == entry.owner_start;
}

std::vector<JournalEntry> Journal::undo_where(const std::function<bool(const JournalEntry&)>& pred,
                                              EventLog* events) {
  JournalLock lock(dir_);
  auto all = load(dir_);
  return undo_loaded(dir_, all, pred, events);
}

std::vector<JournalEntry> Journal::recover(EventLog* events) {
  return undo_where([](const JournalEntry& e) { return !owner_alive(e); }, events);
}

std::optional<ClearReport::Left> Journal::live_holder(const JournalEntry& entry, const std::vector<JournalEntry>& all) {
  if (entry.owner_pid > 0) {
    if (!owner_alive(entry)) return std::nullopt;
    return ClearReport::Left{entry, entry.owner_pid, "owned by live faultline pid " + std::to_string(entry.owner_pid)};
  }
  for (const auto& live : all) {
    if (live.owner_pid <= 0 || !goes_with(entry, live, all) || !owner_alive(live)) continue;
    return ClearReport::Left{entry, live.owner_pid,
                             "in use by live faultline pid " + std::to_string(live.owner_pid) + " (its " + live.kind +
                                 " on " + where_of(live) + ")"};
  }
  return std::nullopt;
}

ClearReport Journal::clear_unowned(EventLog* events) {
  JournalLock lock(dir_);
  auto all = load(dir_);
  ClearReport report;
  for (const auto& e : all)
    if (auto held = live_holder(e, all)) report.left.push_back(std::move(*held));
  auto held = [&](const JournalEntry& e) {
    for (const auto& l : report.left)
      if (l.entry.id == e.id) return true;
    return false;
  };
  report.removed = undo_loaded(dir_, all, [&](const JournalEntry& e) { return !held(e); }, events);
  return report;
}

std::vector<JournalEntry> Journal::clear_all(EventLog* events) {
  return undo_where([](const JournalEntry&) { return true; }, events);
}

}  // namespace faultline::netem
