// HttpSession's sockets: reading a message with Beast's parser fed by hand,
// the client's outbox and its writer, writes through the byte faults, the
// upstream connection, and the answers the link gives in the server's place.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/http_framing.hpp"
#include "proxy/http_session_impl.hpp"
#include "proxy/link.hpp"

namespace faultline::http_link {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

// ---------------------------------------------------------------- reading

template <class Parser>
asio::awaitable<boost::system::error_code> HttpSession::feed(tcp::socket& socket, beast::flat_buffer& buffer,
                                                             Parser& parser, bool head_only, std::string& problem) {
  // Beast's parser fed by hand (put), so that what it waits for can be judged
  // between reads. Beast takes each complete field as it comes and applies
  // its header limit only to what it has not taken yet, so the head is
  // counted here, whole.
  boost::system::error_code ec;
  std::size_t head_bytes = 0;
  bool head_checked = false;
  const auto finished = [&] { return head_only ? parser.is_header_done() : parser.is_done(); };
  for (;;) {
    if (buffer.size() > 0) {
      const bool in_head = !parser.is_header_done();
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (in_head) head_bytes += used;
      if (head_bytes > kHeaderLimit) {
        problem = "head over " + std::to_string(kHeaderLimit / 1024) + " KiB";
        co_return http::error::header_limit;
      }
      if (ec && ec != http::error::need_more) co_return ec;
      ec = {};
      if (parser.is_header_done() && !head_checked) {
        head_checked = true;
        if (auto why = framing_problem(parser.get().base(), parser.get().version())) {
          problem = *why;
          co_return http::error::bad_transfer_encoding;
        }
      }
      if (finished()) co_return ec;
      if (used > 0) continue;  // parse what is left before reading more
      if (parser.is_header_done() && parser.chunked()) {
        const auto* data = static_cast<const char*>(buffer.data().data());
        if (const auto at = bare_line_feed_at({data, buffer.size()}); at != std::string_view::npos) {
          problem = "chunked body: a line ends in a bare LF, " + std::to_string(at) + " bytes into the unparsed part";
          co_return http::error::bad_chunk;
        }
      }
    }
    if (buffer.size() >= buffer.max_size()) {
      problem = parser.is_header_done() ? "a chunk header or trailer too long" : "a head line too long";
      co_return parser.is_header_done() ? http::error::bad_chunk : http::error::header_limit;
    }
    const auto room = std::min(kReadPiece, buffer.max_size() - buffer.size());
    auto [rec, n] = co_await socket.async_read_some(buffer.prepare(room), use_tuple);
    buffer.commit(n);
    if (closing_) co_return rec;
    if (rec == asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      parser.put_eof(ec);
      co_return ec ? ec : http::error::partial_message;
    }
    if (rec) co_return rec;
  }
}

template asio::awaitable<boost::system::error_code> HttpSession::feed<RequestParser>(tcp::socket&, beast::flat_buffer&,
                                                                                     RequestParser&, bool,
                                                                                     std::string&);
template asio::awaitable<boost::system::error_code> HttpSession::feed<ResponseParser>(tcp::socket&,
                                                                                      beast::flat_buffer&,
                                                                                      ResponseParser&, bool,
                                                                                      std::string&);

// The client closing its connection while a response is on its way (an SSE
// stream, typically) ends the connection at once.
std::shared_ptr<asio::cancellation_signal> HttpSession::watch_client() {
  auto signal = std::make_shared<asio::cancellation_signal>();
  auto self = shared_from_this();
  spawn([self, signal]() -> asio::awaitable<void> {
    auto [ec] = co_await self->client_.async_wait(tcp::socket::wait_read,
                                                  asio::bind_cancellation_slot(signal->slot(), use_tuple));
    if (ec || self->closing_) co_return;
    char c;
    const auto n = ::recv(self->client_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      self->close(CloseMode::fin, By::client, n == 0 ? "fin" : "rst", "client closed the connection during a response");
    // n > 0: the client's next request is waiting; it is read after this exchange.
  });
  return signal;
}

// ---------------------------------------------------------------- writing

asio::awaitable<void> HttpSession::send_client(std::string bytes) {
  auto self = shared_from_this();
  if (closing_) co_return;
  if (outbox_.empty()) outbox_arrival_ = Clock::now();
  outbox_ += bytes;
  if (!writing_) {
    writing_ = true;
    spawn([self] { return self->write_loop(); });
  }
  while (outbox_.size() >= kOutboxLimit && writing_ && !closing_) co_await written_.wait();
}

// One write in flight: it takes everything queued so far.
asio::awaitable<void> HttpSession::write_loop() {
  auto self = shared_from_this();
  while (!outbox_.empty() && !closing_) {
    std::string out;
    out.swap(outbox_);
    const auto ec = co_await write_out(Direction::downstream, out, outbox_arrival_);
    written_.notify();
    if (ec) {
      outbox_.clear();
      if (!closing_)
        close(CloseMode::rst, By::client, is_reset(ec) ? "rst" : "error", "write to client: " + ec.message());
      break;
    }
  }
  writing_ = false;
  written_.notify();
}

asio::awaitable<boost::system::error_code> HttpSession::write_out(Direction dir, std::string_view bytes,
                                                                  Clock::time_point arrival) {
  auto self = shared_from_this();
  const int d = dir == Direction::upstream ? 0 : 1;
  auto chain = byte_chain_[d];
  if (!chain) co_return co_await write_socket(dir, asio::buffer(bytes.data(), bytes.size()));
  sink_error_[d] = {};
  Chunk c;
  c.bytes.assign(bytes.begin(), bytes.end());
  c.arrival = arrival;
  co_await chain->data(0, std::move(c));
  co_return sink_error_[d];
}

asio::awaitable<boost::system::error_code> HttpSession::write_socket(Direction dir, asio::const_buffer bytes) {
  auto self = shared_from_this();
  auto& socket = dir == Direction::upstream ? server_ : client_;
  if (closing_ || !socket.is_open()) co_return asio::error::operation_aborted;
  auto [ec, n] = co_await asio::async_write(socket, bytes, use_tuple);
  if (dir == Direction::upstream) {
    bytes_up_ += n;
    link_->stats().bytes_upstream += n;
  } else {
    bytes_down_ += n;
    link_->stats().bytes_downstream += n;
  }
  co_return ec;
}

asio::awaitable<void> HttpSession::flush_client() {
  auto self = shared_from_this();
  while (writing_ && !closing_) co_await written_.wait();
}

asio::awaitable<void> HttpSession::end_streams(Direction first) {
  auto self = shared_from_this();
  co_await flush_client();
  const Direction second = first == Direction::upstream ? Direction::downstream : Direction::upstream;
  for (const auto dir : {first, second}) {
    auto chain = byte_chain_[dir == Direction::upstream ? 0 : 1];
    if (closing_ || !chain || (dir == Direction::upstream && !server_.is_open())) continue;
    co_await chain->end(0, StreamEnd{});
  }
}

// ---------------------------------------------------------------- the upstream connection

asio::awaitable<bool> HttpSession::connect_upstream() {
  const auto byte_slots = byte_slots_;  // faults acting before the upstream connection opens (slow_open)
  for (const auto& slot : byte_slots)
    if (slot->active() && !closing_) co_await slot->stage().before_connect(*slot);
  if (closing_) co_return false;
  tcp::resolver resolver(executor());
  auto [rec, endpoints] = co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
  if (closing_) co_return false;
  if (rec) {
    ++link_->stats().connections_failed;
    emit("http.upstream_error", {{"upstream", upstream_.to_string()}, {"error", "does not resolve: " + rec.message()}});
    co_return false;
  }
  const auto cec = co_await faultline::connect_upstream(server_, endpoints);
  if (closing_) co_return false;
  if (cec) {
    ++link_->stats().connections_failed;
    boost::system::error_code ignored;
    server_.close(ignored);
    emit("http.upstream_error", {{"upstream", upstream_.to_string()}, {"error", cec.message()}});
    co_return false;
  }
  boost::system::error_code ignored;
  server_.set_option(tcp::no_delay(true), ignored);
  server_buffer_.clear();
  emit("conn.upstream", {{"upstream", endpoint_text(server_, true)}});
  co_return true;
}

void HttpSession::close_upstream() {
  boost::system::error_code ignored;
  if (server_.is_open()) {
    server_.shutdown(tcp::socket::shutdown_both, ignored);
    server_.close(ignored);
  }
  server_buffer_.clear();
}

// ---------------------------------------------------------------- the link's own answers

asio::awaitable<void> HttpSession::answer(Exchange& x, const HttpAnswer& a, bool injected) {
  const auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(a.status)));
  std::string text = "HTTP/1.1 " + std::to_string(a.status) + " " + std::string(reason) + "\r\n";
  if (!a.content_type.empty()) text += "Content-Type: " + a.content_type + "\r\n";
  text += "Content-Length: " + std::to_string(a.body.size()) + "\r\n";
  if (!x.keep_alive) text += "Connection: close\r\n";
  text += "\r\n";
  text += a.body;
  nlohmann::json f = {{"method", x.method}, {"path", x.target}, {"status", a.status}, {"frames", x.frames},
                      {"ms", std::chrono::duration<double, std::milli>(Clock::now() - x.started).count()}};
  if (!x.session.empty()) f["session"] = x.session;
  if (injected) f["injected"] = true;
  emit("http.request", std::move(f));
  if (a.status == 404 && !x.session.empty()) state_->note_lost(x.session, number_, 404, injected);
  co_await send_client(std::move(text));
}

asio::awaitable<void> HttpSession::answer_bad_request(int status, const std::string& why) {
  const auto body = http_error_body(-32600, "faultline: bad HTTP request: " + why);
  std::string text = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)))) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n" + body;
  co_await send_client(std::move(text));
  co_await flush_client();
}

}  // namespace faultline::http_link
