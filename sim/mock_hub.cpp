#include "sim/mock_hub.hpp"

#include <random>

#include <spdlog/spdlog.h>

namespace faultline::sim {
namespace {
// How often the heartbeat and the expiry sweep look: the tolerance of both.
constexpr auto kTick = std::chrono::milliseconds(25);
}  // namespace

std::string new_session_id() {
  static std::random_device device;
  static std::mt19937_64 gen(device() ^ (static_cast<std::uint64_t>(device()) << 32));
  static const char* digits = "0123456789abcdef";
  std::string id(32, '0');
  std::uint64_t a = gen(), b = gen();
  for (int i = 0; i < 16; ++i) {
    id[static_cast<std::size_t>(i)] = digits[(a >> (4 * i)) & 15];
    id[static_cast<std::size_t>(16 + i)] = digits[(b >> (4 * i)) & 15];
  }
  return id;
}

MockHub::MockHub(asio::any_io_executor ex, MockBehaviour behaviour, std::uint64_t seed, EventLog* events)
    : ex_(ex),
      behaviour_(std::make_shared<MockBehaviour>(std::move(behaviour))),
      seed_(seed),
      events_(events),
      started_(std::chrono::steady_clock::now()),
      last_request_(started_),
      ticker_(ex) {}

MockHub::~MockHub() = default;

void MockHub::start(Exit exit) {
  exit_ = std::move(exit);
  running_ = true;
  tick();
}

void MockHub::stop() {
  running_ = false;
  ticker_.cancel();
}

void MockHub::tick() {
  ticker_.expires_after(kTick);
  ticker_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    expire_due();
    const auto idle = behaviour_->idle_exit;
    if (idle.count() > 0 && std::chrono::steady_clock::now() - last_request_ >= idle) {
      spdlog::warn("mock-server: no request for {} ms (idle_exit): exiting with code {}", idle.count(),
                   kMockIdleExitCode);
      exit(kMockIdleExitCode, "idle_exit");
      return;
    }
    tick();
  });
}

void MockHub::expire_due() {
  const auto ttl = behaviour_->session_ttl;
  if (ttl.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> due;
  for (const auto& [id, s] : sessions_)
    if (s->expires && now - s->created >= ttl) due.push_back(id);
  for (const auto& id : due) {
    emit("server.session.expired", {{"session", id}});
    close(id, "expired");
  }
}

std::shared_ptr<MockSession> MockHub::create(MockServer::Send send, std::string id, bool banner) {
  auto session = std::make_shared<MockSession>();
  session->id = id.empty() ? new_session_id() : std::move(id);
  session->created = session->last_request = std::chrono::steady_clock::now();
  session->server = std::make_shared<MockServer>(ex_, behaviour_, seed_ + created_++, std::move(send),
                                                 [this] { exit(1, "crash_after"); });
  session->server->record_to(events_, session->id);
  session->server->start(started_, banner);
  sessions_[session->id] = session;
  emit("server.session.created", {{"session", session->id}});
  return session;
}

std::shared_ptr<MockSession> MockHub::find(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  const auto ttl = behaviour_->session_ttl;
  if (ttl.count() > 0 && it->second->expires && std::chrono::steady_clock::now() - it->second->created >= ttl) {
    emit("server.session.expired", {{"session", id}});
    close(id, "expired");
    return nullptr;
  }
  return it->second;
}

void MockHub::receive(MockSession& session, const mcp::Frame& frame) {
  touch();
  session.last_request = last_request_;
  session.server->receive(frame);
}

void MockHub::close(const std::string& id, const std::string& reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto session = it->second;
  sessions_.erase(it);
  session->closed = true;
  // What the server still sends for it (a sleep that ends) goes nowhere.
  session->server->set_send([](const MockServer::Outgoing&) { return std::string(); });
  emit("server.session.closed", {{"session", id}, {"reason", reason}});
  if (session->on_close) session->on_close(reason);
}

std::size_t MockHub::restart() {
  const auto n = sessions_.size();
  spdlog::info("mock-server: restart: forgetting {} sessions", n);
  std::vector<std::string> ids;
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  for (const auto& id : ids) close(id, "restart");
  emit("server.restart", {{"sessions", n}});
  return n;
}

nlohmann::json MockHub::patch(const nlohmann::json& changes) {
  *behaviour_ = patched(*behaviour_, changes);
  emit("server.behaviour", {{"changes", changes}});
  // A heartbeat restarts its count when it is set: idle from now on.
  if (changes.contains("idle_exit_ms")) touch();
  return to_json(*behaviour_);
}

nlohmann::json MockHub::sessions() const {
  const auto now = std::chrono::steady_clock::now();
  auto list = nlohmann::json::array();
  for (const auto& [id, s] : sessions_) {
    list.push_back({{"id", id},
                    {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - s->created).count()},
                    {"idle_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - s->last_request).count()},
                    {"requests", s->server->requests()}});
  }
  return {{"sessions", std::move(list)}};
}

void MockHub::exit(int code, const std::string& reason) {
  if (exiting_) return;
  exiting_ = true;
  running_ = false;
  ticker_.cancel();
  emit("server.exit", {{"reason", reason}, {"code", code}});
  if (exit_) exit_(code, reason);
}

void MockHub::emit(const std::string& kind, nlohmann::json fields) {
  if (events_) events_->emit("server:mock", kind, std::move(fields));
}

}  // namespace faultline::sim
