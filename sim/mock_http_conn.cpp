#include "sim/mock_http_conn.hpp"

#include <cstdio>

#include "core/host_port.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

namespace faultline::sim {
namespace {

// Bytes a client may send while one of its streams is open (a pipelined next
// request) before the mock gives up on it.
constexpr std::size_t kMaxPendingBytes = 1 << 20;
constexpr std::size_t kMaxHistoryBytes = 4 << 20;

void log_exception(const char* where, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("mock-server: {}: {}", where, ex.what());
  }
}

}  // namespace

HttpResponse json_response(const HttpRequest& req, http::status status, const nlohmann::json& body) {
  HttpResponse res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

HttpResponse json_error_response(const HttpRequest& req, http::status status, int code, const std::string& message) {
  return json_response(req, status,
                       {{"jsonrpc", "2.0"}, {"error", {{"code", code}, {"message", message}}}, {"id", nullptr}});
}

HttpResponse empty_response(const HttpRequest& req, http::status status) {
  HttpResponse res{status, req.version()};
  res.keep_alive(req.keep_alive());
  return res;
}

std::optional<HttpResponse> refuse_foreign_host(const HttpRequest& req) {
  const std::string_view host = req[http::field::host];
  std::string_view origin = req[http::field::origin];
  if (const auto scheme = origin.find("://"); scheme != std::string_view::npos) origin.remove_prefix(scheme + 3);
  if ((host.empty() || is_loopback_authority(host)) && (origin.empty() || is_loopback_authority(origin)))
    return std::nullopt;
  return json_error_response(req, http::status::forbidden, -32000,
                             "Forbidden: Host " + std::string(host) +
                                 (origin.empty() ? std::string() : " / Origin " + std::string(origin)) +
                                 " is not loopback (DNS rebinding protection)");
}

// ---------------------------------------------------------------- SseStream

SseStream::SseStream(std::string key, bool numbered, std::size_t history)
    : key_(std::move(key)), numbered_(numbered), history_limit_(history) {}

std::string SseStream::render(std::uint64_t seq, const std::string& data, const std::string& type) const {
  std::string out;
  if (!type.empty()) out += "event: " + type + "\n";
  if (numbered_) out += "id: " + key_ + "-" + std::to_string(seq) + "\n";
  std::size_t start = 0;
  for (;;) {  // one data field per line, so the receiver joins them back
    const auto nl = data.find('\n', start);
    out += "data: ";
    out.append(data, start, nl == std::string::npos ? std::string::npos : nl - start);
    out += "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  out += "\n";
  return out;
}

std::string SseStream::send(const std::string& data, const std::string& type) {
  const auto seq = next_++;
  auto event = render(seq, data, type);
  if (auto conn = conn_.lock()) conn->push(event);
  history_bytes_ += event.size();
  history_.emplace_back(seq, std::move(event));
  while (history_.size() > 1 && (history_.size() > history_limit_ || history_bytes_ > kMaxHistoryBytes)) {
    history_bytes_ -= history_.front().second.size();
    history_.pop_front();
  }
  return numbered_ ? key_ + "-" + std::to_string(seq) : std::string();
}

void SseStream::end() {
  ended_ = true;
  if (auto conn = conn_.lock()) conn->stream_ended();
}

void SseStream::attach(const std::shared_ptr<HttpConn>& conn, std::optional<std::uint64_t> after) {
  conn_ = conn;
  if (after) {
    for (const auto& [seq, event] : history_)
      if (seq > *after) conn->push(event);
  }
  if (ended_) conn->stream_ended();
}

void SseStream::detach(const HttpConn* conn) {
  if (conn_.lock().get() == conn) conn_.reset();
}

bool SseStream::can_resume_after(std::uint64_t seq) const {
  if (seq >= next_) return false;  // an id this stream never gave
  return history_.empty() || history_.front().first <= seq + 1;
}

// ---------------------------------------------------------------- HttpConn

HttpConn::HttpConn(tcp::socket socket, Handler handler, Limits limits, std::string name)
    : socket_(std::move(socket)),
      handler_(std::move(handler)),
      limits_(limits),
      name_(std::move(name)),
      wake_(socket_.get_executor()) {}

void HttpConn::start() {
  asio::co_spawn(socket_.get_executor(), run(), [](std::exception_ptr e) { log_exception("connection", e); });
}

asio::awaitable<void> HttpConn::run() {
  auto self = shared_from_this();
  while (!gone_) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits_.max_body);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await http::async_read(socket_, buffer_, parser, use_tuple);
    if (ec) {
      const bool client_left = ec == http::error::end_of_stream || ec == http::error::partial_message ||
                               ec == asio::error::eof || ec == asio::error::connection_reset ||
                               ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
      if (client_left || gone_) break;
      // Garbage or a body over the limit: say so in one line, then close.
      const bool too_large = ec == http::error::body_limit;
      spdlog::info("mock-server: {}: refused a request: {}", name_, ec.message());
      HttpResponse res{too_large ? http::status::payload_too_large : http::status::bad_request, 11};
      res.set(http::field::content_type, "text/plain");
      res.body() = (too_large ? "request body over " + std::to_string(limits_.max_body) + " bytes"
                              : "bad HTTP request: " + ec.message()) + "\n";
      res.keep_alive(false);
      keep_alive_ = false;
      auto answer = respond(std::move(res));
      co_await std::move(answer);
      break;
    }
    HttpRequest req = parser.release();
    keep_alive_ = req.keep_alive();
    auto handled = handler_(self, req);
    co_await std::move(handled);
    if (!keep_alive_) break;
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

asio::awaitable<void> HttpConn::respond(HttpResponse res) {
  if (!keep_alive_) res.keep_alive(false);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(socket_, res, use_tuple);
  if (ec) gone_ = true;
  if (!res.keep_alive()) keep_alive_ = false;
}

asio::awaitable<void> HttpConn::serve_stream(const HttpRequest& req, std::map<std::string, std::string> headers,
                                             std::shared_ptr<SseStream> stream,
                                             std::optional<std::uint64_t> resume_after, std::uint64_t retry_ms) {
  auto self = shared_from_this();
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     "Transfer-Encoding: chunked\r\n";
  if (!req.keep_alive()) head += "Connection: close\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  auto [hec, hn] = co_await asio::async_write(socket_, asio::buffer(head), use_tuple);
  if (hec) {
    gone_ = true;
    co_return;
  }
  streaming_ = true;
  stream_done_ = false;
  if (retry_ms > 0) push("retry: " + std::to_string(retry_ms) + "\n\n");
  stream->attach(self, resume_after);
  watch();
  for (;;) {
    while (!queue_.empty() && !gone_) {
      std::string chunk = std::move(queue_.front());
      queue_.pop_front();
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(chunk), use_tuple);
      if (ec) gone_ = true;
    }
    if (gone_ || stream_done_) break;
    wake_.expires_at(asio::steady_timer::time_point::max());
    [[maybe_unused]] auto [wec] = co_await wake_.async_wait(use_tuple);
  }
  stream->detach(this);
  streaming_ = false;
  queue_.clear();
  if (!gone_) {
    static const std::string last_chunk = "0\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(last_chunk), use_tuple);
    if (ec) gone_ = true;
  }
  // The read that watched for the client's leaving must end before the next
  // request is read; what it read stays in buffer_.
  if (watching_) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    while (watching_) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      [[maybe_unused]] auto [wec] = co_await wake_.async_wait(use_tuple);
    }
  }
}

void HttpConn::watch() {
  if (watching_ || gone_) return;
  watching_ = true;
  auto self = shared_from_this();
  socket_.async_read_some(buffer_.prepare(4096), [self](const boost::system::error_code& ec, std::size_t n) {
    self->watching_ = false;
    if (!ec) {
      self->buffer_.commit(n);
      if (self->buffer_.size() > kMaxPendingBytes) {
        self->gone_ = true;
      } else if (self->streaming_ && !self->stream_done_) {
        self->watch();
      }
    } else if (ec != asio::error::operation_aborted) {
      self->gone_ = true;  // the client closed the connection or reset it
    }
    self->wake_.cancel();
  });
}

void HttpConn::push(std::string bytes) {
  if (!streaming_ || gone_ || bytes.empty()) return;
  char size[20];
  const int len = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string chunk(size, static_cast<std::size_t>(len));
  chunk += bytes;
  chunk += "\r\n";
  queue_.push_back(std::move(chunk));
  wake_.cancel();
}

void HttpConn::stream_ended() {
  stream_done_ = true;
  wake_.cancel();
}

void HttpConn::close() {
  gone_ = true;
  keep_alive_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  wake_.cancel();
}

asio::awaitable<void> serve_http(tcp::acceptor& acceptor, HttpConn::Handler handler, HttpConn::Limits limits,
                                 std::string name) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of descriptors, say: wait a little rather than spin.
      spdlog::warn("mock-server: {}: accept failed: {}", name, ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      [[maybe_unused]] auto [pec] = co_await pause.async_wait(use_tuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<HttpConn>(std::move(socket), handler, limits, name)->start();
  }
}

}  // namespace faultline::sim
