#pragma once
// HttpSession: one client TCP connection on an http link (see
// http_session.hpp for what it does). Its parts live in separate files:
//   http_session.cpp   the connection's life: faults attached, the request
//                      loop, drain and close
//   http_io.cpp        sockets: reading a message (feed), the client's
//                      outbox, writes through the byte faults, the upstream
//                      connection, answers the link gives itself
//   http_exchange.cpp  one request and its response, step by step, and a
//                      JSON response body
//   http_sse_relay.cpp an SSE response, event by event
//   http_flow.*        the faults: slots, flows (frame chains), socket sinks
//   http_sessions.*    what the link remembers across connections (MCP sessions)

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "mcp/http_body.hpp"
#include "mcp/session.hpp"
#include "mcp/sse_codec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/http_flow.hpp"
#include "proxy/http_messages.hpp"
#include "proxy/http_session.hpp"
#include "proxy/http_sessions.hpp"
#include "proxy/link_session.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline::http_link {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using Request = http::request<http::string_body>;
using RequestParser = http::request_parser<http::string_body>;
using ResponseParser = http::response_parser<http::buffer_body>;

class HttpSession final : public LinkSession, public LinkFaultHost, public std::enable_shared_from_this<HttpSession> {
 public:
  enum class By { client, server, proxy };

  explicit HttpSession(SessionStart start);
  ~HttpSession() override = default;

  asio::any_io_executor executor() override { return client_.get_executor(); }
  void start(std::vector<std::shared_ptr<const FaultSpec>> faults) override;
  void attach(const FaultPtr& spec) override;
  void detach(const FaultPtr& spec) override;
  void replace(const FaultPtr& before, const FaultPtr& after) override;
  void shut_down(const std::string& reason) override { close(CloseMode::fin, By::proxy, "shutdown", reason); }
  void drain(std::chrono::milliseconds grace, const std::string& reason) override;

  void close(CloseMode mode, By by, std::string how, std::string reason);
  // FaultHost
  bool closing() const override { return closing_; }
  Link& link() override { return *link_; }
  std::uint64_t number() const override { return number_; }
  void close_for_fault(CloseMode mode, std::string reason) override {
    close(mode, By::proxy, "fault", std::move(reason));
  }

  HttpLinkState& state() { return *state_; }
  const std::vector<std::shared_ptr<FaultSlot>>& slots() const { return slots_; }
  void emit(std::string kind, nlohmann::json fields);
  // Queues bytes for the client: one writer takes all that is queued through
  // the downstream byte faults in one go, so the caller goes on reading (it
  // waits only while too much is queued) and a fault's delay is measured from
  // when the bytes were ready, not added once per write.
  asio::awaitable<void> send_client(std::string bytes);
  // Writes bytes to a socket, through the direction's byte faults; the error, if any.
  asio::awaitable<boost::system::error_code> write_out(Direction dir, std::string_view bytes,
                                                       Clock::time_point arrival);
  asio::awaitable<boost::system::error_code> write_socket(Direction dir, asio::const_buffer bytes);
  void spawn(std::function<asio::awaitable<void>()> work);

 private:
  // What one exchange is about.
  struct Exchange {
    std::string method;
    std::string target;
    std::string session;  // "" while unknown
    std::string key;      // the session, or a temporary record key
    std::string last_event_id;
    Clock::time_point started;
    std::size_t frames = 0;
    bool keep_alive = true;
  };
  // One SSE stream on its way to the client.
  struct SseStream {
    std::uint64_t number = 0;  // on the link
    std::string method;
    std::string target;
    std::string key;
    std::string session;
    bool chunked = true;
    bool first = true;
    bool legacy = false;  // the legacy transport's GET stream: it named its session in an endpoint event
    bool closed = false;  // sse.close was emitted
    std::uint64_t events = 0;
    std::uint64_t bytes = 0;
    std::map<std::uint64_t, std::pair<mcp::SseEvent, bool>> recent;  // by offset: the event, whether a fault edited it
  };

  // ---- http_session.cpp: the connection's life
  asio::awaitable<void> run();
  // A request that did not arrive whole: the connection ends (a bad one is answered first).
  asio::awaitable<void> request_failed(boost::system::error_code ec, const RequestParser& parser,
                                       const std::string& problem);
  void rebuild_byte_chains();
  void emit_close();

  // ---- http_io.cpp: sockets
  // Reads from `socket` into `parser` until the message (or its head) is
  // complete, refusing a head over kHeaderLimit and framing a server could
  // read otherwise (http_framing.hpp); `problem` says why when it refuses.
  template <class Parser>
  asio::awaitable<boost::system::error_code> feed(tcp::socket& socket, beast::flat_buffer& buffer, Parser& parser,
                                                  bool head_only, std::string& problem);
  asio::awaitable<bool> connect_upstream();
  void close_upstream();
  std::shared_ptr<asio::cancellation_signal> watch_client();
  asio::awaitable<void> flush_client();
  asio::awaitable<void> write_loop();
  // Before the link closes both connections gracefully: what is queued goes
  // out, then the FIN toward each peer passes that direction's byte faults
  // (slow_close delays it, half_open holds it), `first` (where the close came
  // from) first.
  asio::awaitable<void> end_streams(Direction first);
  // The link answers the client itself (a fault, an unreachable server):
  // recorded as the exchange's http.request.
  asio::awaitable<void> answer(Exchange& x, const HttpAnswer& a, bool injected);
  asio::awaitable<void> answer_bad_request(int status, const std::string& why);

  // ---- http_exchange.cpp: one request and its response
  asio::awaitable<bool> exchange(Request req);
  Exchange begin_exchange(const Request& req);
  // HTTP faults on the request (forget_session, get_405, ...): true when one answered it.
  asio::awaitable<bool> request_http_faults(Exchange& x, const std::vector<WireFrame>& frames);
  // Where an exchange goes after a step: on, or it is over (the link answered
  // the client in the server's place), or the connection is closing.
  enum class Step { go_on, answered, closing };
  // The request's messages through the upstream frame faults, the body
  // rendered again if they changed it; answered when nothing is left for the server.
  asio::awaitable<Step> request_frame_faults(Request& req, Exchange& x, std::vector<WireFrame>& frames,
                                             std::vector<WireFrame>& replies);
  // Sends the request and reads the response's head into `parser`, opening
  // the upstream connection if needed (once more when a kept-alive one turns
  // out closed); answered when the client got 502 instead.
  asio::awaitable<Step> forward(Request& req, Exchange& x, std::optional<ResponseParser>& parser);
  asio::awaitable<boost::system::error_code> send_and_read_head(const Request& req, const std::string& bytes,
                                                                std::optional<ResponseParser>& parser,
                                                                std::string& problem);
  // The response, recorded and relayed (a JSON body whole, an SSE stream event by event).
  asio::awaitable<bool> relay_response(const Request& req, Exchange& x, ResponseParser& parser,
                                       std::vector<WireFrame> replies);
  void record_response(Exchange& x, const http::response_header<>& res, mcp::BodyType type);
  // Moves frames through a direction's frame faults (never copied: a message
  // may nest deep) and leaves what came out in their place; true when that
  // differs from what went in. Answers faults gave in the server's place go to `replies`.
  asio::awaitable<bool> through_frame_faults(Direction dir, const std::string& key, std::vector<WireFrame>& frames,
                                             std::vector<WireFrame>& replies);
  asio::awaitable<bool> relay_body(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies, bool head);
  // Reads a whole non-SSE response body; false when it failed (the connection is closed).
  asio::awaitable<bool> read_body(ResponseParser& parser, std::string& body);
  std::shared_ptr<Flow> make_flow(Direction dir, std::string key, Flow::Deliver deliver);
  // The messages of a body, recorded under `key`; `session` is "" while unknown.
  std::vector<WireFrame> observe_body(std::string_view body, const std::string& key, const std::string& session,
                                      mcp::Peer from);
  void finish_exchange(Exchange& x);
  bool has_http_faults(Direction dir) const;
  bool has_frame_faults(Direction dir) const;

  // ---- http_sse_relay.cpp: an SSE response
  asio::awaitable<bool> relay_sse(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies);
  // Sends the response head and records sse.open; null if the link is closing.
  asio::awaitable<std::shared_ptr<SseStream>> open_sse(ResponseParser& parser, Exchange& x);
  // Relays the stream's events until it ends: how it ended, or "" when the link is closing.
  asio::awaitable<std::string> pump_sse(ResponseParser& parser, SseStream& stream, Flow& flow, bool transparent);
  // After the stream ended `how`: what the client and the connections get.
  asio::awaitable<bool> end_sse(SseStream& stream, const std::string& how);
  asio::awaitable<SseAction> deliver_event(SseStream& stream, Flow& flow, bool transparent, mcp::SseEvent event);
  // The legacy transport names its session in the first event: "endpoint", /message?sessionId=...
  void adopt_endpoint_session(SseStream& stream, Flow& flow, const mcp::SseEvent& event);
  std::vector<WireFrame> observe_event(SseStream& stream, const mcp::SseEvent& event);
  // HTTP faults on an event (close_sse, strip_event_ids, ...): what becomes of the stream.
  SseAction event_http_faults(SseStream& stream, mcp::SseEvent& event, const std::vector<WireFrame>& frames);
  asio::awaitable<void> write_event(SseStream& stream, const mcp::SseEvent& event, bool edited);
  asio::awaitable<void> write_sse_frame(SseStream& stream, WireFrame frame);
  // Records the end of an SSE stream once (sse.close, and for a legacy stream
  // that broke, the break). `how` is machine-readable: end, fault_end,
  // fault_close, server_cut, server_error, client_closed, link_stopping, fault, error.
  void close_stream(SseStream& stream, const std::string& how, const std::string& reason);
  // How an SSE stream ended that the connection's close cut short.
  std::string stream_end() const;
  std::string client_host() const;

  std::shared_ptr<Link> link_;
  std::shared_ptr<HttpLinkState> state_;
  tcp::socket client_;
  tcp::socket server_;
  std::uint64_t number_;
  HostPort upstream_;
  std::size_t max_body_;  // the link's max_message, or kMaxBodyBytes
  beast::flat_buffer client_buffer_{kUnparsedLimit};
  beast::flat_buffer server_buffer_{kUnparsedLimit};
  std::vector<std::shared_ptr<FaultSlot>> slots_;
  std::vector<std::shared_ptr<AttachedByteFault>> byte_slots_;
  SocketSink up_sink_{*this, Direction::upstream};
  SocketSink down_sink_{*this, Direction::downstream};
  std::shared_ptr<FaultChain> byte_chain_[2];
  boost::system::error_code sink_error_[2];
  std::vector<std::shared_ptr<const FaultSpec>> initial_faults_;
  std::string outbox_;
  Clock::time_point outbox_arrival_;
  bool writing_ = false;
  Broadcast written_;  // the relay and faults' tasks may both wait for the writer
  Clock::time_point opened_at_;
  std::string client_address_;
  std::uint64_t exchanges_ = 0;
  std::uint64_t bytes_up_ = 0;
  std::uint64_t bytes_down_ = 0;
  bool idle_ = false;  // waiting for a request with nothing of it read yet
  bool closing_ = false;
  bool draining_ = false;
  bool close_emitted_ = false;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  std::optional<By> first_by_;
  std::string first_how_;
  std::string close_reason_;
  std::string drain_reason_;
  std::shared_ptr<SseStream> open_stream_;  // the SSE stream being relayed, if any

  friend class Flow;
  friend class SocketSink;
};

}  // namespace faultline::http_link
