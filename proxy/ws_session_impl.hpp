#pragma once
// The websocket session itself (make_websocket_session in ws_session.hpp):
// the two directions, the handshake, and how the connection ends. Its parts
// live in ws_session.cpp (lifecycle and records), ws_handshake.cpp (the
// upgrade) and ws_close.cpp (close frames, protocol violations, shutdown).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "mcp/session.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/link_session.hpp"
#include "proxy/ws_direction.hpp"

namespace faultline::ws {

namespace beast = boost::beast;
namespace http = beast::http;

class WsSession final : public LinkSession, public LinkFaultHost, public std::enable_shared_from_this<WsSession> {
 public:
  explicit WsSession(SessionStart start);

  asio::any_io_executor executor() override { return client_.get_executor(); }
  void start(std::vector<std::shared_ptr<const FaultSpec>> faults) override;
  void attach(const FaultPtr& spec) override;
  void detach(const FaultPtr& spec) override;
  void replace(const FaultPtr& before, const FaultPtr& after) override;
  void shut_down(const std::string& reason) override;
  void drain(std::chrono::milliseconds grace, const std::string& reason) override;

  // FaultHost
  Link& link() override { return *link_; }
  std::uint64_t number() const override { return number_; }
  bool closing() const override { return closing_; }
  void close_for_fault(CloseMode mode, std::string reason) override {
    close(mode, By::proxy, "fault", std::move(reason));
  }

  WsDirection& dir(Direction d) { return d == Direction::upstream ? up_ : down_; }
  void spawn(asio::awaitable<void> work);
  void emit(std::string kind, nlohmann::json fields);
  // Records a frame in the session; returns the method it belongs to.
  std::string observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected);

  void close(CloseMode mode, By by, std::string how, std::string reason);
  void note_end(Direction dir, const StreamEnd& end);
  void note_close_frame(Direction dir, const mcp::WsEvent& e);
  void reader_done();
  void stream_ended();
  // A peer broke the protocol: it gets the close code, the other peer 1001.
  void violation(Direction dir, const mcp::WsEvent& e);
  // A fault closes the WebSocket toward `dir`'s peer with `code`.
  void close_by_fault(Direction dir, int code, std::string_view reason, const std::string& fault);

 private:
  asio::awaitable<void> run();
  using UpgradeRequest = http::request<http::string_body>;
  asio::awaitable<bool> upgrade();
  asio::awaitable<std::optional<UpgradeRequest>> read_upgrade_request();
  asio::awaitable<bool> open_upstream();
  asio::awaitable<bool> relay_upgrade_answer(const std::string& target);
  asio::awaitable<void> refuse(http::status status, std::string why, By by);
  void arm_close_timer(std::chrono::milliseconds after, std::string reason);
  void check_done();
  void emit_close();

  std::shared_ptr<Link> link_;
  tcp::socket client_;
  tcp::socket server_;
  std::uint64_t number_;
  HostPort upstream_;
  WsDirection up_;
  WsDirection down_;
  mcp::Session session_;
  std::vector<std::shared_ptr<const FaultSpec>> initial_faults_;
  Clock::time_point opened_at_;
  std::string client_address_;
  beast::flat_buffer client_buffer_;
  beast::flat_buffer server_buffer_;
  bool upgraded_ = false;
  bool closing_ = false;
  bool draining_ = false;
  bool close_emitted_ = false;
  int readers_done_ = 0;
  int streams_ended_ = 0;
  std::unique_ptr<asio::steady_timer> close_timer_;
  std::optional<By> first_by_;
  std::string first_how_;
  std::string close_reason_;
  std::optional<int> close_code_;  // the first close frame's code
};

}  // namespace faultline::ws
