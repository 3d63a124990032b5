#include "proxy/http_flow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "proxy/http_session_impl.hpp"
#include "proxy/link.hpp"

namespace faultline::http_link {

// ---------------------------------------------------------------- FaultSlot

FaultSlot::FaultSlot(HttpSession& session, FaultPtr spec)
    : slot_(std::make_shared<FrameFaultSlot>(session, std::move(spec))) {
  if (const auto* http_fault = dynamic_cast<const HttpFault*>(frame_spec().fault.get())) {
    http_stage_ = http_fault->instantiate_http();
    memory_ = &session.state().memory(slot_->spec().name);
  }
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

// ---------------------------------------------------------------- what a fault does to a flow

asio::awaitable<void> Flow::reply(WireFrame frame, const FaultSpec& fault) {
  if (dir == Direction::downstream) {  // no frame fault answers the server; say so rather than lose it quietly
    session.emit("fault.unsupported", {{"fault", fault.name}, {"what", "a reply toward the server"}});
    co_return;
  }
  session.state().observe(key, session.number(), mcp::Peer::server, frame.frame, Clock::now(), true);
  replies.push_back(std::move(frame));
}

void Flow::close_output(std::string_view reason, const FaultSpec& fault) {
  session.close(CloseMode::fin, HttpSession::By::proxy, "fault", std::string(reason) + " (" + fault.name + ")");
}

// ---------------------------------------------------------------- Flow

Flow::Flow(HttpSession& s, Direction d, std::string k, Deliver deliver)
    : session(s), dir(d), key(std::move(k)), deliver_(std::move(deliver)), tasks_done_(s.executor()) {}

void Flow::build() {
  for (const auto& slot : session.slots()) {
    if (slot->removed() || slot->direction() != dir || slot->http_stage()) continue;
    stages_.push_back(std::make_shared<AttachedFrameFault>(slot->frame_slot(), *this));
  }
  chain_ = std::make_shared<FrameChain>(stages_, *this);
}

asio::awaitable<void> Flow::end() {
  auto self = shared_from_this();
  while (pending_tasks_ > 0 && !session.closing()) co_await tasks_done_.wait();
}

void Flow::spawn(std::function<asio::awaitable<void>()> task) {
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
