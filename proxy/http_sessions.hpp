#pragma once
// What an http link remembers across its TCP connections. An MCP session
// (named by Mcp-Session-Id, or by the legacy SSE transport's ?sessionId=)
// spans several connections: its requests and replies are matched in one
// mcp::Session record wherever they travel, and its connections and SSE
// streams are counted (connects, reconnects). HTTP faults keep their memory
// here too (the sessions a server "forgot"). One HttpLinkState per link,
// shared by the link's sessions on every worker thread: each call locks.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/event_log.hpp"
#include "faults/http_fault.hpp"
#include "mcp/session.hpp"

namespace faultline {

class Link;

class HttpLinkState {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  HttpLinkState(EventLog& events, std::string source) : events_(events), source_(std::move(source)) {}

  // Records a frame of the MCP session under `key` (a session id, or a
  // temporary key for an exchange whose session is not known yet) and emits
  // what it meant (rpc.*, session.initialize, ...). Returns the method: a
  // call's own, or for a reply the method of the request it answers.
  std::string observe(const std::string& key, std::uint64_t conn, mcp::Peer from, const mcp::Frame& frame,
                      TimePoint at, bool injected);
  // The server named the session of an exchange recorded under `temp`: the
  // record moves to `session` (session.new when the id is new).
  void adopt(const std::string& temp, const std::string& session, std::uint64_t conn);
  // An exchange under a temporary key is over.
  void drop_temp(const std::string& temp);
  // A request of `session` came over connection `conn` (session.connect the first time).
  void note_connection(const std::string& session, std::uint64_t conn);
  // An SSE stream of `session` opened (session.reconnect when it resumes with
  // Last-Event-ID, or is not the session's first GET stream).
  void note_stream(const std::string& session, std::uint64_t conn, bool standalone, const std::string& last_event_id);
  // A request carrying `session` was answered 404 (session.lost) or the client deleted it (session.end).
  void note_lost(const std::string& session, std::uint64_t conn, int status, bool injected);
  void end_session(const std::string& session, std::uint64_t conn, TimePoint now);
  // The memory of the HTTP fault named `fault` (made on first use).
  HttpFaultMemory& memory(const std::string& fault);

  std::size_t sessions() const;

 private:
  struct SessionRecord {
    mcp::Session rpc;
    std::set<std::uint64_t> connections;
    std::uint64_t streams = 0;
    std::uint64_t reconnects = 0;
    bool announced = false;  // session.new was emitted
  };
  static bool is_temp(const std::string& key) { return key.starts_with("~"); }
  void emit(std::string kind, nlohmann::json fields) { events_.emit(source_, std::move(kind), std::move(fields)); }

  EventLog& events_;
  std::string source_;
  mutable std::mutex mutex_;
  std::map<std::string, SessionRecord> sessions_;
  std::map<std::string, std::unique_ptr<HttpFaultMemory>> memories_;
};

// The state of `link`, made on first use and kept while the link lives.
std::shared_ptr<HttpLinkState> http_link_state(const std::shared_ptr<Link>& link);

}  // namespace faultline
