#pragma once
// The ownership journal: every namespace, device and qdisc faultline creates is
// written here before it is created, and struck out after it is removed. An
// entry whose owning process has died (SIGKILL, crash) is a leftover: the next
// faultline start removes it (recover), and `faultline netem clear` removes all.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {
class EventLog;
}

namespace faultline::netem {

struct JournalEntry {
  std::string id;
  std::string kind;            // "netns", "link", "qdisc", "ingress"
  std::string netns;           // "" = the namespace faultline runs in
  std::string dev;             // for link, qdisc, ingress
  std::uint32_t handle = 0;    // for qdisc
  std::string spec;            // for qdisc: what was applied, in tc-like words
  std::string label;           // the link or topology it belongs to (event source "net:LABEL")
  std::string topology;        // set for everything a topology made
  int owner_pid = 0;           // 0: kept after exit until `clear` or `topology down`
  std::uint64_t owner_start = 0;  // the owner's start time, so a reused pid is not mistaken for it

  nlohmann::json to_json() const;
  static JournalEntry from_json(const nlohmann::json& j);
};

class Journal {
 public:
  // $FAULTLINE_STATE_DIR, else /run/faultline.
  static std::string default_dir();

  explicit Journal(std::string dir = default_dir());
  const std::string& dir() const { return dir_; }

  // Records an entry (an id is given if empty) and returns its id.
  std::string add(JournalEntry entry);
  void remove(const std::string& id);
  void update_spec(const std::string& id, const std::string& spec);
  std::vector<JournalEntry> entries() const;

  // Removes, in reverse order of creation, what processes that are gone left
  // behind; returns what it removed.
  std::vector<JournalEntry> recover(EventLog* events = nullptr);
  // Removes every entry's object, whoever owns it; returns what it removed.
  std::vector<JournalEntry> clear_all(EventLog* events = nullptr);
  // Removes the entries matching `pred`, newest first.
  std::vector<JournalEntry> undo_where(const std::function<bool(const JournalEntry&)>& pred, EventLog* events = nullptr);

  // Stamps an entry as owned by this process (or as kept when `persistent`).
  static void set_owner(JournalEntry& entry, bool persistent);
  static bool owner_alive(const JournalEntry& entry);

 private:
  std::string dir_;
};

// Removes the object an entry names; tolerant of it being gone already.
void undo_entry(const JournalEntry& entry);

}  // namespace faultline::netem
