#pragma once
// The ownership journal: every namespace, device and qdisc faultline creates is
// written here before it is created, and struck out after it is removed. An
// entry whose owning process has died (SIGKILL, crash) is a leftover: the next
// faultline start removes it (recover). `faultline netem clear` removes what no
// live faultline holds (clear_unowned), `clear --all` everything (clear_all).

#include <cstdint>
#include <functional>
#include <optional>
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

// What clear_unowned removed, and what it left to a live faultline.
struct ClearReport {
  struct Left {
    JournalEntry entry;
    int holder_pid = 0;  // the live faultline that owns it or has something inside it
    std::string why;     // "owned by live faultline pid N", or what of that pid's depends on it
  };
  std::vector<JournalEntry> removed;
  std::vector<Left> left;
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
  // Removes what no live faultline holds: entries of owners that are gone, and
  // kept entries (a topology, a --detach fault) unless a live owner has
  // something in the same namespace, topology or root-namespace device. Leaves
  // the rest, saying whose it is.
  ClearReport clear_unowned(EventLog* events = nullptr);
  // Removes every entry's object, whoever owns it; returns what it removed.
  std::vector<JournalEntry> clear_all(EventLog* events = nullptr);
  // Removes the entries matching `pred`, newest first.
  std::vector<JournalEntry> undo_where(const std::function<bool(const JournalEntry&)>& pred, EventLog* events = nullptr);

  // Stamps an entry as owned by this process (or as kept when `persistent`).
  static void set_owner(JournalEntry& entry, bool persistent);
  static bool owner_alive(const JournalEntry& entry);
  // For an entry, the live faultline that holds it (its owner, or the owner of
  // something that would go with it) and why; nullopt when nothing live does.
  static std::optional<ClearReport::Left> live_holder(const JournalEntry& entry, const std::vector<JournalEntry>& all);

 private:
  std::string dir_;
};

// Removes the object an entry names; tolerant of it being gone already.
void undo_entry(const JournalEntry& entry);

}  // namespace faultline::netem
