// The client's connection and session over time: connect and initialize,
// notice a drop, reconnect under the policy (stdio: restart the server),
// re-initialize an expired session, pings, close.

#include <algorithm>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/errors.hpp"
#include "sim/client/mcp_client.hpp"

namespace faultline::sim {
namespace {

StreamPolicy stream_policy(const ClientPolicy& p) {
  StreamPolicy s;
  s.get_stream = p.get_stream;
  s.reconnect_sse_stream = p.reconnect_sse_stream;
  s.honour_retry = p.honour_retry;
  s.resume_with_last_event_id = p.resume_with_last_event_id;
  s.default_retry = p.reconnect_delay.count() > 0 ? p.reconnect_delay : Millis(1000);
  s.max_resume_attempts = p.max_attempts.value_or(1'000'000);
  return s;
}

}  // namespace

asio::awaitable<bool> McpClient::start() {
  auto self = shared_from_this();
  set_state(State::connecting);
  std::string why;
  const bool opened = co_await open_session(why);  // throws StartupError when the target is unreachable
  if (!opened) {
    start_error_ = why;
    set_state(State::disconnected);
    co_return false;
  }
  set_state(State::ready);
  const bool listed = co_await list_tools();
  if (!listed) start_error_ = "tools/list failed";
  if (options_.policy.ping_interval && !ping_running_) asio::co_spawn(ex_, ping_loop(), asio::detached);
  co_return listed;
}

void McpClient::wire(const std::shared_ptr<ClientTransport>& t, std::uint64_t generation) {
  std::weak_ptr<McpClient> weak = weak_from_this();
  t->on_message([weak, generation](nlohmann::json m) {
    if (auto c = weak.lock()) c->on_message(generation, std::move(m));
  });
  t->on_closed([weak, generation](const Disconnect& d) {
    if (auto c = weak.lock()) c->on_closed(generation, d);
  });
  t->on_note([weak, generation](const std::string& kind, nlohmann::json fields) {
    auto c = weak.lock();
    if (c && generation == c->generation_) c->emit(kind.c_str(), std::move(fields));
  });
}

asio::awaitable<bool> McpClient::open_session(std::string& why) {
  auto self = shared_from_this();
  auto t = make_transport(ex_, options_.target, stream_policy(options_.policy));
  const auto generation = ++generation_;
  wire(t, generation);
  transport_ = t;
  const bool first = stats_.reconnects == 0 && attempts_ == 0;
  try {
    co_await t->connect();
  } catch (const StartupError& e) {
    why = e.what();
    transport_.reset();
    if (first) throw;
  } catch (const std::exception& e) {
    why = e.what();
    transport_.reset();
    if (first) throw StartupError(why);
  }
  if (!transport_) co_return false;
  emit("client.connected", {{"transport", t->name()}, {"target", options_.target.text}});
  const bool initialized = co_await initialize(why);
  if (!initialized && transport_ == t) {
    co_await t->close();
    if (transport_ == t) transport_.reset();
  }
  co_return initialized && transport_ == t;
}

asio::awaitable<bool> McpClient::initialize(std::string& why) {
  auto self = shared_from_this();
  auto t = transport_;
  nlohmann::json params = {
      {"protocolVersion", kClientProtocolVersions[0]},
      {"capabilities", nlohmann::json::object()},
      {"clientInfo", {{"name", "faultline-simulate"}, {"version", FAULTLINE_VERSION}}}};
  std::string method = "initialize";
  const auto outcome = co_await do_request(std::move(method), std::move(params), std::nullopt, true);
  if (!outcome.ok()) {
    if (outcome.kind == CallOutcome::Kind::timeout)
      why = "initialize: no answer within " + std::to_string(static_cast<long long>(outcome.ms)) + " ms";
    else if (outcome.kind == CallOutcome::Kind::fail)
      why = "initialize: error " + std::to_string(outcome.code) + ": " + outcome.message;
    else
      why = "initialize: " + outcome.message;
    co_return false;
  }
  const auto version = outcome.result.is_object() && outcome.result.value("protocolVersion", nlohmann::json()).is_string()
                           ? outcome.result["protocolVersion"].get<std::string>()
                           : std::string();
  const bool known = std::any_of(std::begin(kClientProtocolVersions), std::end(kClientProtocolVersions),
                                 [&](const char* v) { return version == v; });
  if (!known) {
    why = "initialize: the server answered with protocol version \"" + version + "\", which this client does not speak";
    emit("session.rejected", {{"protocol_version", version}});
    co_return false;
  }
  if (t != transport_) co_return false;
  protocol_version_ = version;
  t->initialized(version);
  emit("session.initialized", {{"session", t->session_id()}, {"protocol_version", version}});
  std::string note = "notifications/initialized";
  nlohmann::json no_params;
  co_await notify(std::move(note), std::move(no_params));
  co_return true;
}

void McpClient::on_closed(std::uint64_t generation, const Disconnect& d) {
  if (generation != generation_ || state_ == State::closed) return;
  drop_transport(d);
}

// The transport is gone (or given up on): record it, end or keep the pending
// requests as the policy says, and reconnect when allowed.
void McpClient::drop_transport(const Disconnect& d) {
  emit("client.disconnected", {{"reason", d.reason}, {"noticed_by", d.noticed_by}});
  auto old = transport_;
  transport_.reset();
  ++generation_;  // nothing more from the old transport counts
  if (old) {
    asio::co_spawn(ex_, [old]() -> asio::awaitable<void> { co_await old->close(); }, asio::detached);
  }
  // A handshake on a dead transport can never finish, whatever the policy.
  lose_all("transport dropped: " + d.reason, !options_.policy.fail_pending_on_drop);
  if (state_ == State::reconnecting || state_ == State::connecting) return;  // the loop in progress goes on
  if (!may_reconnect()) {
    set_state(State::disconnected);
    return;
  }
  set_state(State::reconnecting);
  asio::co_spawn(ex_, reconnect_loop(), asio::detached);
}

bool McpClient::may_reconnect() const {
  const auto& p = options_.policy;
  if (p.reconnect == ReconnectMode::none) return false;
  if (options_.target.kind == Target::Kind::stdio) return p.restart_stdio_server;
  return true;
}

Millis McpClient::reconnect_delay(std::uint32_t attempt) {
  const auto& p = options_.policy;
  double ms = static_cast<double>(p.reconnect_delay.count());
  if (p.reconnect == ReconnectMode::exponential)
    ms = std::min(ms * std::pow(p.reconnect_multiplier, attempt), static_cast<double>(p.reconnect_max_delay.count()));
  if (p.reconnect_jitter > 0) ms *= rng_.uniform(1.0 - p.reconnect_jitter, 1.0 + p.reconnect_jitter);
  return Millis(static_cast<std::int64_t>(std::max(0.0, ms)));
}

asio::awaitable<void> McpClient::reconnect_loop() {
  auto self = shared_from_this();
  const auto& policy = options_.policy;
  std::string why;
  while (state_ == State::reconnecting) {
    if (policy.max_attempts && attempts_ >= *policy.max_attempts) {
      emit("client.gave_up", {{"attempts", attempts_}, {"reason", why}});
      stats_.gave_up = true;
      set_state(State::gave_up);
      lose_all("the client gave up reconnecting");
      co_return;
    }
    const auto delay = reconnect_delay(attempts_);
    ++attempts_;
    emit("client.reconnect_attempt", {{"attempt", attempts_}, {"delay_ms", delay.count()}});
    asio::steady_timer wait(ex_, delay);
    auto [ec] = co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (state_ != State::reconnecting) co_return;  // closed meanwhile
    const bool opened = co_await open_session(why);
    if (state_ != State::reconnecting) co_return;
    if (!opened) continue;
    ++stats_.reconnects;
    emit("client.reconnected", {{"attempt", attempts_}, {"session", transport_ ? transport_->session_id() : ""}});
    if (policy.reset_attempts == AttemptReset::reconnected) attempts_ = 0;
    if (policy.reset_attempts == AttemptReset::first_ok) reset_on_ok_ = true;
    // The tools are listed again before the requests held meanwhile go.
    if (policy.relist_after_reconnect) {
      const bool listed = co_await list_tools(true);
      (void)listed;
      if (state_ != State::reconnecting) co_return;
    }
    set_state(State::ready);
    co_return;
  }
}

// The server forgot the session (404, or 400 when the policy says so): a new
// initialize on the same transport.
asio::awaitable<void> McpClient::reinitialize(int status) {
  auto self = shared_from_this();
  if (reinitializing_ || !transport_ || state_ != State::ready) co_return;
  reinitializing_ = true;
  transport_->reset_session();
  set_state(State::connecting);
  std::string why;
  const bool ok = co_await initialize(why);
  reinitializing_ = false;
  if (state_ != State::connecting) co_return;  // closed or dropped meanwhile
  if (!ok) {
    drop_transport(Disconnect{"re-initialize after HTTP " + std::to_string(status) + " failed: " + why, "HTTP status", status});
    co_return;
  }
  if (options_.policy.relist_after_reconnect) {
    const bool listed = co_await list_tools(true);
    (void)listed;
    if (state_ != State::connecting) co_return;
  }
  set_state(State::ready);
}

asio::awaitable<void> McpClient::ping_loop() {
  auto self = shared_from_this();
  ping_running_ = true;
  const auto interval = *options_.policy.ping_interval;
  std::uint32_t missed = 0;
  while (state_ != State::closed && state_ != State::gave_up && state_ != State::disconnected) {
    ping_timer_.expires_after(interval);
    auto [ec] = co_await ping_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (state_ != State::ready) continue;
    std::string method = "ping";
    nlohmann::json no_params = nlohmann::json::object();
    const auto outcome = co_await request(std::move(method), std::move(no_params), interval);
    if (outcome.kind == CallOutcome::Kind::timeout) {
      ++missed;
    } else {
      missed = 0;
    }
    if (missed >= options_.policy.missed_pings_limit && state_ == State::ready) {
      missed = 0;
      drop_transport(Disconnect{std::to_string(options_.policy.missed_pings_limit) + " pings unanswered",
                                "missed pings", 0});
    }
  }
  ping_running_ = false;
}

asio::awaitable<void> McpClient::close() {
  auto self = shared_from_this();
  if (state_ == State::closed) co_return;
  set_state(State::closed);
  ping_timer_.cancel();
  lose_all("the client closed");
  auto t = std::move(transport_);
  ++generation_;
  if (t) co_await t->close();
  emit("client.closed", nlohmann::json::object());
}

}  // namespace faultline::sim
