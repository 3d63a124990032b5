// The client's requests and the messages it receives. Its connection's life
// (connect, initialize, reconnect, pings) is in client_session.cpp.

#include "sim/client/mcp_client.hpp"

#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace faultline::sim {
namespace {

double elapsed_ms(Clock::time_point since) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count();
  return std::round(static_cast<double>(us) / 10.0) / 100.0;
}

}  // namespace

McpClient::McpClient(asio::any_io_executor ex, ClientOptions options)
    : ex_(ex),
      options_(std::move(options)),
      source_("client:" + std::to_string(options_.index)),
      rng_(derive_seed(options_.seed, "client", "", static_cast<std::uint64_t>(options_.index))),
      ping_timer_(ex) {}

void McpClient::emit(const char* kind, nlohmann::json fields) {
  if (options_.events && options_.events->has_sinks()) options_.events->emit(source_, kind, std::move(fields));
}

// Requests held while the client reconnects wait on their own timers: a change wakes them all.
void McpClient::set_state(State s) {
  state_ = s;
  for (auto& [id, p] : pending_) p->timer.cancel();
}

asio::awaitable<CallOutcome> McpClient::request(std::string method, nlohmann::json params,
                                                std::optional<Millis> timeout) {
  auto outcome = co_await do_request(std::move(method), std::move(params), timeout, false);
  co_return outcome;
}

asio::awaitable<CallOutcome> McpClient::do_request(std::string method, nlohmann::json params,
                                                   std::optional<Millis> timeout, bool handshake) {
  auto self = shared_from_this();
  const auto& policy = options_.policy;
  const auto limit = timeout ? timeout : policy.request_timeout;
  const auto id = next_id_++;
  auto p = std::make_shared<Pending>(ex_);
  p->method = method;
  p->sent = Clock::now();
  p->handshake = handshake;
  if (limit) p->idle_deadline = p->sent + *limit;
  if (policy.max_request_time) p->hard_deadline = p->sent + *policy.max_request_time;
  if (!limit) p->hard_deadline = Clock::time_point::max();  // no timeout at all: nothing caps it
  nlohmann::json invoke = {{"id", id}, {"method", method}};
  if (method == "tools/call" && params.contains("name")) invoke["tool"] = params["name"];
  emit("rpc.invoke", std::move(invoke));
  pending_[id] = p;

  // A client between connections holds the request until it is connected again (or its time is up).
  while (!handshake && (state_ == State::reconnecting || state_ == State::connecting)) {
    if (p->outcome) break;
    const auto until = std::min(p->idle_deadline, p->hard_deadline);
    p->timer.expires_at(until);
    auto [ec] = co_await p->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (Clock::now() >= until) break;
  }
  if (!p->outcome && Clock::now() < std::min(p->idle_deadline, p->hard_deadline)) {
    if (!transport_ || (state_ != State::ready && !handshake)) {
      finish(id, CallOutcome{CallOutcome::Kind::lost, nullptr, 0,
                             state_ == State::gave_up ? "the client gave up reconnecting" : "not connected", 0});
    } else {
      nlohmann::json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
      if (!params.is_null()) message["params"] = std::move(params);
      if (method == "tools/call") message["params"]["_meta"]["progressToken"] = id;
      auto t = transport_;
      asio::co_spawn(ex_, send_message(t, std::move(message), id), asio::detached);
    }
  }
  for (;;) {
    if (p->outcome) break;
    const auto until = std::min(p->idle_deadline, p->hard_deadline);
    p->timer.expires_at(until);
    auto [ec] = co_await p->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (p->outcome) break;
    const auto now = Clock::now();
    if (now < p->idle_deadline && now < p->hard_deadline) continue;  // progress moved the deadline
    finish(id, CallOutcome{CallOutcome::Kind::timeout, nullptr, 0, "", 0});
    if (policy.cancel_on_give_up && state_ == State::ready && transport_ && method != "initialize") {
      nlohmann::json cancel_params = {{"requestId", id}, {"reason", "timed out"}};
      std::string cancelled = "notifications/cancelled";
      co_await notify(std::move(cancelled), std::move(cancel_params));
      emit("client.cancelled", {{"id", id}});
    }
  }
  co_return *p->outcome;
}

asio::awaitable<CallOutcome> McpClient::call_tool(std::string name, nlohmann::json arguments) {
  nlohmann::json params = {{"name", std::move(name)}, {"arguments", std::move(arguments)}};
  std::string method = "tools/call";
  auto outcome = co_await request(std::move(method), std::move(params));
  co_return outcome;
}

asio::awaitable<void> McpClient::notify(std::string method, nlohmann::json params) {
  auto self = shared_from_this();
  if (!transport_) co_return;
  nlohmann::json message = {{"jsonrpc", "2.0"}, {"method", std::move(method)}};
  if (!params.is_null()) message["params"] = std::move(params);
  auto t = transport_;
  auto result = co_await t->send(std::move(message));
  (void)result;
}

asio::awaitable<void> McpClient::send_message(std::shared_ptr<ClientTransport> t, nlohmann::json message,
                                              std::int64_t id) {
  auto self = shared_from_this();
  const auto result = co_await t->send(std::move(message));
  if (!result.ok && t == transport_) on_send_failed(id, result);
}

void McpClient::on_send_failed(std::int64_t id, const SendResult& r) {
  if (!pending_.count(id)) return;
  const int status = r.http_status;
  if (status == 0) {
    finish(id, CallOutcome{CallOutcome::Kind::lost, nullptr, 0, r.error, 0});
    return;
  }
  CallOutcome fail{CallOutcome::Kind::fail, nullptr, status, "HTTP " + std::to_string(status), 0};
  const bool session_gone = (status == 404 || status == 400) && transport_ && !transport_->session_id().empty();
  finish(id, std::move(fail));
  if (!session_gone) return;
  emit("session.lost", {{"session", transport_->session_id()}, {"status", status}});
  const auto& policy = options_.policy;
  if ((status == 404 && policy.reinitialize_on_404) || (status == 400 && policy.reinitialize_on_400))
    asio::co_spawn(ex_, reinitialize(status), asio::detached);
}

void McpClient::finish(std::int64_t id, CallOutcome outcome) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto p = it->second;
  pending_.erase(it);
  outcome.ms = elapsed_ms(p->sent);
  switch (outcome.kind) {
    case CallOutcome::Kind::ok:
      ++stats_.ok;
      emit("rpc.ok", {{"id", id}, {"ms", outcome.ms}});
      if (reset_on_ok_) {
        attempts_ = 0;
        reset_on_ok_ = false;
      }
      break;
    case CallOutcome::Kind::fail:
      ++stats_.fail;
      emit("rpc.fail", {{"id", id}, {"code", outcome.code}, {"message", outcome.message}, {"ms", outcome.ms}});
      break;
    case CallOutcome::Kind::timeout:
      ++stats_.timeout;
      emit("rpc.timeout", {{"id", id}, {"ms", outcome.ms}});
      break;
    case CallOutcome::Kind::lost:
      ++stats_.lost;
      emit("rpc.lost", {{"id", id}, {"ms", outcome.ms}, {"reason", outcome.message}});
      break;
  }
  p->outcome = std::move(outcome);
  p->timer.cancel();
}

void McpClient::lose_all(const std::string& reason, bool handshake_only) {
  std::vector<std::int64_t> ids;
  for (const auto& [id, p] : pending_)
    if (!handshake_only || p->handshake) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (auto id : ids) finish(id, CallOutcome{CallOutcome::Kind::lost, nullptr, 0, reason, 0});
}

void McpClient::on_message(std::uint64_t generation, nlohmann::json message) {
  if (generation != generation_ || !message.is_object()) return;
  const bool has_method = message.contains("method") && message["method"].is_string();
  if (!has_method) {
    // A reply: ours have integer ids.
    const auto idv = message.find("id");
    if (idv == message.end() || !idv->is_number_integer()) return;
    const auto id = idv->get<std::int64_t>();
    if (auto err = message.find("error"); err != message.end() && err->is_object()) {
      const auto code_it = err->find("code");  // a server's odd code is 0, not an exception
      const int code = code_it != err->end() && code_it->is_number_integer() ? code_it->get<int>() : 0;
      std::string text = err->contains("message") && (*err)["message"].is_string() ? (*err)["message"].get<std::string>() : "";
      finish(id, CallOutcome{CallOutcome::Kind::fail, nullptr, code, std::move(text), 0});
    } else {
      finish(id, CallOutcome{CallOutcome::Kind::ok, message.value("result", nlohmann::json::object()), 0, "", 0});
    }
    return;
  }
  const std::string method = message["method"].get<std::string>();
  if (message.contains("id")) {
    // A request from the server: ping is answered, anything else (sampling,
    // roots, elicitation) is a capability this client did not declare.
    nlohmann::json reply = {{"jsonrpc", "2.0"}, {"id", message["id"]}};
    if (method == "ping") reply["result"] = nlohmann::json::object();
    else reply["error"] = {{"code", -32601}, {"message", "the simulated client does not handle " + method}};
    if (transport_) {
      auto t = transport_;
      asio::co_spawn(ex_, [t, reply]() mutable -> asio::awaitable<void> {
        auto r = co_await t->send(std::move(reply));
        (void)r;
      }, asio::detached);
    }
    return;
  }
  emit("notification.received", {{"method", method}});
  const auto& params = message.contains("params") && message["params"].is_object() ? message["params"] : nlohmann::json();
  if (method == "notifications/progress" && options_.policy.reset_timeout_on_progress && params.is_object()) {
    const auto token = params.find("progressToken");
    if (token != params.end() && token->is_number_integer()) {
      auto it = pending_.find(token->get<std::int64_t>());
      if (it != pending_.end() && options_.policy.request_timeout)
        it->second->idle_deadline = Clock::now() + *options_.policy.request_timeout;
    }
  } else if (method == "notifications/tools/list_changed" && options_.policy.relist_on_list_changed && !relisting_) {
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self]() -> asio::awaitable<void> {
      const bool listed = co_await self->list_tools();
      (void)listed;
    }, asio::detached);
  }
}

asio::awaitable<bool> McpClient::list_tools(bool handshake) {
  auto self = shared_from_this();
  relisting_ = true;
  std::vector<nlohmann::json> found;
  nlohmann::json cursor;
  bool ok = true;
  for (int page = 0; page < 1000; ++page) {
    nlohmann::json params = nlohmann::json::object();
    if (cursor.is_string()) params["cursor"] = cursor;
    std::string method = "tools/list";
    const auto outcome = co_await do_request(std::move(method), std::move(params), std::nullopt, handshake);
    if (!outcome.ok()) {
      ok = false;
      break;
    }
    if (!outcome.result.is_object()) break;  // a server's odd answer ends the listing, it does not throw
    if (outcome.result.contains("tools") && outcome.result["tools"].is_array())
      for (const auto& t : outcome.result["tools"])
        if (t.is_object() && t.contains("name") && t["name"].is_string()) found.push_back(t);  // the rest cannot be called
    cursor = outcome.result.value("nextCursor", nlohmann::json());
    if (!cursor.is_string() || cursor.get<std::string>().empty()) break;
  }
  relisting_ = false;
  if (!ok) co_return false;
  tools_ = std::move(found);
  nlohmann::json names = nlohmann::json::array();
  for (const auto& t : tools_) names.push_back(t.value("name", ""));
  emit("tools.listed", {{"names", names}, {"count", tools_.size()}});
  co_return true;
}

}  // namespace faultline::sim
