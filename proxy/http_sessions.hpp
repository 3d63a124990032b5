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
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
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
  // call's own, or for a reply the method of the request it answers (for a
  // reply that comes again, replayed on a resumed stream, the method of the
  // relayed request it answers: see note_relayed). A client's first request
  // on a legacy session that took over a broken one (note_legacy_session)
  // emits session.switch unless it is initialize.
  std::string observe(const std::string& key, std::uint64_t conn, mcp::Peer from, const mcp::Frame& frame,
                      TimePoint at, bool injected);
  // The server named the session of an exchange recorded under `temp`: the
  // record moves to `session` (session.new when the id is new).
  void adopt(const std::string& temp, const std::string& session, std::uint64_t conn);
  // The client's request `frame` of the session under `key` went to the
  // server: its method is remembered by id until its reply passes to the
  // client (note_delivered), so a reply that arrives again, on a resumed GET
  // stream or after a fault dropped the first, still matches by method. At
  // most kRelayedPerSession are remembered a session (the oldest go first).
  void note_relayed(const std::string& key, const mcp::Frame& frame);
  // The server's `frame` of the session under `key` went out to the client.
  void note_delivered(const std::string& key, const mcp::Frame& frame);
  // A number for a new SSE stream, unique on the link (sse.open and sse.close name it).
  std::uint64_t next_stream();
  // Legacy HTTP+SSE. The client at `client_host` lost the GET stream of
  // `session` other than by closing it itself: the SDK reconnects and gets a
  // new session, which it does not initialize. Remembered if `session` was
  // initialized (at most kBrokenKept, the oldest go first).
  void note_legacy_break(const std::string& session, const std::string& client_host);
  // The legacy stream of a client at `client_host` named a new `session`. It
  // takes over the last broken session of the same host not taken over yet,
  // if any: "the same client" for the link, which cannot tell clients apart
  // across TCP connections otherwise, is one on the same host whose previous
  // initialized session on this link broke. A client that closed its stream
  // itself, or whose session broke before it was initialized, starts afresh.
  void note_legacy_session(const std::string& session, const std::string& client_host);
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
  static constexpr std::size_t kRelayedPerSession = 4096;
  static constexpr std::size_t kBrokenKept = 64;

  // Method by id of the requests relayed to the server whose replies have not passed yet.
  class RelayedCalls {
   public:
    void add(const mcp::MessageId& id, const std::string& method);
    std::string method(const mcp::MessageId& id) const;
    void forget(const mcp::MessageId& id);

   private:
    std::unordered_map<mcp::MessageId, std::pair<std::string, std::uint64_t>, mcp::MessageIdHash> by_id_;
    std::map<std::uint64_t, mcp::MessageId> order_;  // by when relayed, to forget the oldest
    std::uint64_t next_ = 0;
  };
  struct SessionRecord {
    mcp::Session rpc;
    RelayedCalls relayed;
    bool initialized = false;      // the server answered initialize
    bool initialize_sent = false;  // the client sent initialize
    std::string predecessor;       // legacy: the broken session this one took over, until its first request
    std::set<std::uint64_t> connections;
    std::uint64_t streams = 0;
    std::uint64_t reconnects = 0;
    bool announced = false;  // session.new was emitted
  };
  struct BrokenSession {
    std::string session;
    std::string client_host;
  };
  static bool is_temp(const std::string& key) { return key.starts_with("~"); }
  // What observe learns beyond mcp::Session: the handshake, a switch of session.
  void note_handshake(const std::string& key, SessionRecord& record, std::uint64_t conn, mcp::Peer from,
                      const mcp::Frame& frame, const std::string& method);
  void emit(std::string kind, nlohmann::json fields) { events_.emit(source_, std::move(kind), std::move(fields)); }

  EventLog& events_;
  std::string source_;
  mutable std::mutex mutex_;
  std::map<std::string, SessionRecord> sessions_;
  std::map<std::string, std::unique_ptr<HttpFaultMemory>> memories_;
  std::deque<BrokenSession> broken_;  // legacy sessions whose stream broke, not taken over yet
  std::uint64_t streams_ = 0;
};

// The state of `link`, made on first use and kept while the link lives.
std::shared_ptr<HttpLinkState> http_link_state(const std::shared_ptr<Link>& link);

}  // namespace faultline
