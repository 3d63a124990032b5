#pragma once
// What an MCP session looked like on the wire, as a proxy in the middle saw it:
// requests matched to their replies by id (with latency), orphan replies,
// notifications, the initialize handshake and tool listings. A pure class: it
// takes frames with their arrival time and returns the events to record.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "mcp/frame.hpp"

namespace faultline::mcp {

enum class Peer : std::uint8_t { client, server };
std::string_view to_string(Peer peer);
inline Peer other(Peer p) { return p == Peer::client ? Peer::server : Peer::client; }

struct SessionEvent {
  std::string kind;      // rpc.request, rpc.response, rpc.orphan_response, rpc.notification, rpc.invalid,
                         // rpc.duplicate_id, session.initialize, session.initialized, tools.listed, rpc.unanswered
  nlohmann::json fields;  // an object
};

// What one observed frame meant.
struct Observation {
  std::string method;  // a call's method, or for a reply the method of the request it answers ("" if unknown)
  std::vector<SessionEvent> events;
};

class Session {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // One frame sent by `from`, seen at `at`. `injected` marks frames faultline
  // wrote itself (an error fault answering in the server's place). With
  // `record` false the session's state is kept as usual but no events are
  // built (nobody would read them): only Observation::method is filled.
  Observation observe(Peer from, const Frame& frame, TimePoint at, bool injected = false, bool record = true);

  // The requests still waiting for a reply, as rpc.unanswered events.
  std::vector<SessionEvent> unanswered(TimePoint now) const;
  std::size_t pending() const { return pending_.size(); }

  const std::string& protocol_version() const { return protocol_version_; }
  const nlohmann::json& client_info() const { return client_info_; }
  const nlohmann::json& server_info() const { return server_info_; }
  std::optional<std::size_t> tool_count() const { return tool_count_; }

 private:
  struct Key {
    Peer requester;
    MessageId id;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const { return k.id.hash() * 2 + static_cast<std::size_t>(k.requester); }
  };
  struct Pending {
    std::string method;
    TimePoint sent;
  };
  void on_result(const std::string& method, const Frame& frame, std::vector<SessionEvent>& out);

  std::unordered_map<Key, Pending, KeyHash> pending_;
  std::string protocol_version_;
  nlohmann::json client_info_;
  nlohmann::json server_info_;
  std::optional<std::size_t> tool_count_;
};

}  // namespace faultline::mcp
