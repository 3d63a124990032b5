#include "proxy/http_flow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "proxy/http_session_impl.hpp"
#include "proxy/link.hpp"

namespace faultline::http_link {

// ---------------------------------------------------------------- FaultSlot

FaultSlot::FaultSlot(HttpSession& session, std::shared_ptr<const FaultSpec> spec)
    : session_(session),
      spec_(std::move(spec)),
      rng_(derive_seed(session.link().env().seed, session.link().name(), spec_->name, session.number())),
      counters_(session.link().stats().fault(spec_->name, spec_->type)) {
  if (const auto* http_fault = dynamic_cast<const HttpFault*>(spec_->frame->fault.get())) {
    http_stage_ = http_fault->instantiate_http();
    memory_ = &session.state().memory(spec_->name);
  }
}

asio::awaitable<bool> FaultSlot::wait_until(Clock::time_point deadline) {
  if (removed_ || session_.closing()) co_return false;
  const bool on_time = co_await waits_.wait(session_.executor(), deadline);
  co_return on_time && !removed_ && !session_.closing();
}

void FaultSlot::injected(nlohmann::json detail) {
  ++counters_->injections;
  if (detail.is_null()) return;
  nlohmann::json fields = {{"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(spec_->direction)}};
  if (detail.is_object()) fields.update(detail);
  session_.emit("fault.inject", std::move(fields));
}

// ---------------------------------------------------------------- SocketSink

asio::awaitable<void> SocketSink::write(Chunk chunk) {
  const auto ec = co_await session_.write_socket(dir_, asio::buffer(chunk.bytes.data(), chunk.bytes.size()));
  if (ec) session_.sink_error_[dir_ == Direction::upstream ? 0 : 1] = ec;
}

asio::awaitable<void> SocketSink::end(StreamEnd) {
  auto& socket = dir_ == Direction::upstream ? session_.server_ : session_.client_;
  boost::system::error_code ignored;
  if (!session_.closing() && socket.is_open()) socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

// ---------------------------------------------------------------- FlowStage

asio::awaitable<bool> FlowStage::wait_until(Clock::time_point deadline) { return slot_->wait_until(deadline); }

asio::awaitable<void> FlowStage::emit(WireFrame frame) { co_await flow_.write(std::move(frame)); }

asio::awaitable<void> FlowStage::reply(WireFrame frame) {
  if (flow_.dir == Direction::downstream) {  // no frame fault answers the server; say so rather than lose it quietly
    flow_.session.emit("fault.unsupported", {{"fault", slot_->spec().name}, {"what", "a reply toward the server"}});
    co_return;
  }
  flow_.session.state().observe(flow_.key, flow_.session.number(), mcp::Peer::server, frame.frame, Clock::now(), true);
  flow_.replies.push_back(std::move(frame));
}

void FlowStage::spawn(std::function<asio::awaitable<void>()> task) { flow_.spawn_task(std::move(task)); }

void FlowStage::close_output(std::string_view reason) {
  flow_.session.close(CloseMode::fin, HttpSession::By::proxy, "fault",
                      std::string(reason) + " (" + slot_->spec().name + ")");
}

// ---------------------------------------------------------------- Flow

Flow::Flow(HttpSession& s, Direction d, std::string k, Deliver deliver)
    : session(s), dir(d), key(std::move(k)), deliver_(std::move(deliver)), tasks_done_(s.executor()) {}

void Flow::build() {
  for (const auto& slot : session.slots()) {
    if (slot->removed() || slot->direction() != dir || slot->http_stage()) continue;
    stages_.push_back(std::make_shared<FlowStage>(*this, slot));
  }
  chain_ = std::make_shared<FrameChain>(stages_, *this);
}

asio::awaitable<void> Flow::end() {
  auto self = shared_from_this();
  while (pending_tasks_ > 0 && !session.closing()) co_await tasks_done_.wait();
}

void Flow::spawn_task(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  asio::co_spawn(session.executor(), std::move(task), [self = shared_from_this()](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http fault task: {}", ex.what());
      }
    }
    --self->pending_tasks_;
    self->tasks_done_.notify();
  });
}

}  // namespace faultline::http_link
