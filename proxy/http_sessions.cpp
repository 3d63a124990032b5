#include "proxy/http_sessions.hpp"

#include "proxy/link.hpp"

namespace faultline {

std::string HttpLinkState::observe(const std::string& key, std::uint64_t conn, mcp::Peer from, const mcp::Frame& frame,
                                   TimePoint at, bool injected) {
  std::lock_guard lock(mutex_);
  auto& record = sessions_[key];
  auto obs = record.rpc.observe(from, frame, at, injected);
  const bool reply = frame.kind == mcp::FrameKind::response || frame.kind == mcp::FrameKind::error;
  if (from == mcp::Peer::server && reply && obs.method.empty()) obs.method = record.relayed.method(frame.id);
  note_handshake(key, record, conn, from, frame, obs.method);
  for (auto& e : obs.events) {
    e.fields["conn"] = conn;
    if (!is_temp(key)) e.fields["session"] = key;
    emit(std::move(e.kind), std::move(e.fields));  // under the lock: the record keeps the order it was observed in
  }
  return obs.method;
}

void HttpLinkState::note_handshake(const std::string& key, SessionRecord& record, std::uint64_t conn, mcp::Peer from,
                                   const mcp::Frame& frame, const std::string& method) {
  if (from == mcp::Peer::server) {
    if (frame.kind == mcp::FrameKind::response && method == "initialize") record.initialized = true;
    return;
  }
  if (frame.kind != mcp::FrameKind::request) return;
  if (method == "initialize") {
    record.initialize_sent = true;
    record.predecessor.clear();  // a client that starts the new session properly
    return;
  }
  if (record.predecessor.empty() || record.initialize_sent) return;
  emit("session.switch", {{"session", key},
                          {"from", record.predecessor},
                          {"to", key},
                          {"initialized", false},
                          {"method", method},
                          {"conn", conn}});
  record.predecessor.clear();
}

void HttpLinkState::RelayedCalls::add(const mcp::MessageId& id, const std::string& method) {
  if (auto it = by_id_.find(id); it != by_id_.end()) {  // the id again: the later request is the one answered
    order_.erase(it->second.second);
    by_id_.erase(it);
  }
  const auto n = next_++;
  by_id_.emplace(id, std::make_pair(method, n));
  order_.emplace(n, id);
  while (order_.size() > kRelayedPerSession) {
    by_id_.erase(order_.begin()->second);
    order_.erase(order_.begin());
  }
}

std::string HttpLinkState::RelayedCalls::method(const mcp::MessageId& id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? std::string() : it->second.first;
}

void HttpLinkState::RelayedCalls::forget(const mcp::MessageId& id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  order_.erase(it->second.second);
  by_id_.erase(it);
}

void HttpLinkState::note_relayed(const std::string& key, const mcp::Frame& frame) {
  if (frame.kind != mcp::FrameKind::request) return;
  std::lock_guard lock(mutex_);
  sessions_[key].relayed.add(frame.id, frame.method);
}

void HttpLinkState::note_delivered(const std::string& key, const mcp::Frame& frame) {
  if (frame.kind != mcp::FrameKind::response && frame.kind != mcp::FrameKind::error) return;
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(key);
  if (it != sessions_.end()) it->second.relayed.forget(frame.id);
}

std::uint64_t HttpLinkState::next_stream() {
  std::lock_guard lock(mutex_);
  return ++streams_;
}

void HttpLinkState::note_legacy_break(const std::string& session, const std::string& client_host) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(session);
  if (it == sessions_.end() || !it->second.initialized) return;
  broken_.push_back({session, client_host});
  while (broken_.size() > kBrokenKept) broken_.pop_front();
}

void HttpLinkState::note_legacy_session(const std::string& session, const std::string& client_host) {
  std::lock_guard lock(mutex_);
  for (auto it = broken_.rbegin(); it != broken_.rend(); ++it) {
    if (it->client_host != client_host || it->session == session) continue;
    sessions_[session].predecessor = it->session;
    broken_.erase(std::next(it).base());
    return;
  }
}

void HttpLinkState::adopt(const std::string& temp, const std::string& session, std::uint64_t conn) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(temp);
  const bool known = sessions_.contains(session);
  auto& record = sessions_[session];
  if (!known && it != sessions_.end()) {
    record.rpc = std::move(it->second.rpc);
    record.relayed = std::move(it->second.relayed);
    record.initialized = it->second.initialized;
    record.initialize_sent = it->second.initialize_sent;
  }
  record.connections.insert(conn);
  if (!record.announced) {
    record.announced = true;
    nlohmann::json f = {{"session", session}, {"conn", conn}};
    if (!record.rpc.protocol_version().empty()) f["protocolVersion"] = record.rpc.protocol_version();
    if (!record.rpc.client_info().is_null()) f["clientInfo"] = record.rpc.client_info();
    emit("session.new", std::move(f));
  }
  if (it != sessions_.end()) sessions_.erase(temp);  // (`record` stays valid: a map erases only its own node)
}

void HttpLinkState::drop_temp(const std::string& temp) {
  std::lock_guard lock(mutex_);
  sessions_.erase(temp);
}

void HttpLinkState::note_connection(const std::string& session, std::uint64_t conn) {
  std::lock_guard lock(mutex_);
  auto& record = sessions_[session];
  if (!record.connections.insert(conn).second) return;
  emit("session.connect", {{"session", session}, {"conn", conn}, {"connections", record.connections.size()}});
}

void HttpLinkState::note_stream(const std::string& session, std::uint64_t conn, bool standalone,
                                const std::string& last_event_id) {
  std::lock_guard lock(mutex_);
  auto& record = sessions_[session];
  if (standalone) ++record.streams;
  if (last_event_id.empty() && record.streams <= 1) return;
  ++record.reconnects;
  nlohmann::json f = {{"session", session}, {"conn", conn}, {"reconnects", record.reconnects}, {"streams", record.streams}};
  if (!last_event_id.empty()) f["last_event_id"] = last_event_id;
  emit("session.reconnect", std::move(f));
}

void HttpLinkState::note_lost(const std::string& session, std::uint64_t conn, int status, bool injected) {
  nlohmann::json f = {{"session", session}, {"conn", conn}, {"status", status}};
  if (injected) f["injected"] = true;
  emit("session.lost", std::move(f));
}

void HttpLinkState::end_session(const std::string& session, std::uint64_t conn, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  for (auto& e : it->second.rpc.unanswered(now)) {
    e.fields["session"] = session;
    emit(std::move(e.kind), std::move(e.fields));
  }
  emit("session.end", {{"session", session},
                       {"conn", conn},
                       {"connections", it->second.connections.size()},
                       {"reconnects", it->second.reconnects}});
  sessions_.erase(it);
}

HttpFaultMemory& HttpLinkState::memory(const std::string& fault) {
  std::lock_guard lock(mutex_);
  auto& slot = memories_[fault];
  if (!slot) slot = std::make_unique<HttpFaultMemory>();
  return *slot;
}

std::size_t HttpLinkState::sessions() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::shared_ptr<HttpLinkState> http_link_state(const std::shared_ptr<Link>& link) {
  struct Entry {
    std::weak_ptr<Link> link;
    std::shared_ptr<HttpLinkState> state;
  };
  static std::mutex mutex;
  static std::map<const Link*, Entry> states;
  std::lock_guard lock(mutex);
  for (auto it = states.begin(); it != states.end();) {  // forget links that are gone
    if (it->second.link.expired()) it = states.erase(it);
    else ++it;
  }
  auto& entry = states[link.get()];
  if (!entry.state) entry = {link, std::make_shared<HttpLinkState>(link->env().events, link->source())};
  return entry.state;
}

}  // namespace faultline
