// One exchange of an HttpSession: a request read whole is recorded, taken
// through the HTTP faults and the upstream frame faults, and forwarded; its
// response is recorded and relayed, a JSON body whole here (through the
// downstream frame faults), an SSE stream event by event (http_sse_relay.cpp).
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/http_body.hpp"
#include "proxy/http_framing.hpp"
#include "proxy/http_session_impl.hpp"

namespace faultline::http_link {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<bool> HttpSession::exchange(Request req) {
  auto self = shared_from_this();
  Exchange x = begin_exchange(req);

  // The request's messages, recorded as they arrived.
  std::vector<WireFrame> frames;
  if (req.method() == http::verb::post && !req.body().empty())
    frames = observe_body(req.body(), x.key, x.session, mcp::Peer::client);
  x.frames = frames.size();

  const bool answered = co_await request_http_faults(x, frames);
  if (answered) {
    finish_exchange(x);
    co_return x.keep_alive;
  }
  std::vector<WireFrame> replies;
  const Step faulted = co_await request_frame_faults(req, x, frames, replies);
  if (faulted == Step::closing) co_return false;
  if (faulted == Step::answered) {
    finish_exchange(x);
    co_return x.keep_alive;
  }
  std::optional<ResponseParser> parser;
  const Step forwarded = co_await forward(req, x, parser);
  if (forwarded == Step::closing) co_return false;
  if (forwarded == Step::answered) {
    finish_exchange(x);
    co_return x.keep_alive;
  }
  const bool keep = co_await relay_response(req, x, *parser, std::move(replies));
  finish_exchange(x);
  co_return keep;
}

HttpSession::Exchange HttpSession::begin_exchange(const Request& req) {
  Exchange x;
  x.started = Clock::now();
  x.method = std::string(req.method_string());
  x.target = std::string(req.target());
  x.session = std::string(req[kSessionHeader]);
  if (x.session.empty()) x.session = query_param(x.target, "sessionId");
  const auto exchange_no = ++exchanges_;
  x.key = x.session.empty() ? "~" + std::to_string(number_) + "." + std::to_string(exchange_no) : x.session;
  x.last_event_id = std::string(req["Last-Event-ID"]);
  x.keep_alive = req.keep_alive();
  if (!x.session.empty()) state_->note_connection(x.session, number_);
  return x;
}

asio::awaitable<bool> HttpSession::request_http_faults(Exchange& x, const std::vector<WireFrame>& frames) {
  const HttpRequestView view{x.method, x.target, x.session};
  const auto slots = slots_;
  for (const auto& slot : slots) {
    if (!slot->http_stage() || slot->removed() || slot->direction() != Direction::upstream) continue;
    const bool matched = any_match(slot->frame_spec().match, frames, x.session) && slot->roll();
    auto a = slot->http_stage()->on_request(view, matched, *slot);
    if (!a) continue;
    co_await answer(x, *a, true);
    co_return true;
  }
  co_return false;
}

asio::awaitable<HttpSession::Step> HttpSession::request_frame_faults(Request& req, Exchange& x, std::vector<WireFrame>& frames,
                                                        std::vector<WireFrame>& replies) {
  bool changed = false;
  if (!frames.empty()) {
    changed = co_await through_frame_faults(Direction::upstream, x.key, frames, replies);
    if (closing_) co_return Step::closing;
  }
  if (x.frames > 0 && frames.empty()) {
    // Nothing left for the server: answer in its place, with what faults
    // answered, or 202 Accepted as for notifications.
    HttpAnswer a = replies.empty() ? HttpAnswer{202, "", ""} : HttpAnswer{200, "application/json", encode_frames(std::move(replies))};
    co_await answer(x, a, true);
    co_return Step::answered;
  }
  for (const auto& f : frames) state_->note_relayed(x.key, f.frame);
  if (changed) req.body() = encode_frames(std::move(frames));
  if (changed || req.chunked()) {
    req.chunked(false);
    req.content_length(req.body().size());
  }
  co_return Step::go_on;
}

asio::awaitable<HttpSession::Step> HttpSession::forward(Request& req, Exchange& x, std::optional<ResponseParser>& parser) {
  const std::string bytes = request_head(req) + req.body();
  std::string upstream_problem;  // framing the link refuses to relay
  for (int attempt = 0;; ++attempt) {
    const bool reused = server_.is_open();
    if (!reused) {
      const bool connected = co_await connect_upstream();
      if (closing_) co_return Step::closing;
      if (!connected) {
        // A named answer, not a temporary in the co_await: GCC 12 destroys
        // such a temporary twice (a double free on every 502).
        const HttpAnswer unreachable{502, "application/json",
                                     http_error_body(-32603, "faultline: upstream unreachable")};
        co_await answer(x, unreachable, true);
        co_return Step::answered;
      }
    }
    const auto ec = co_await send_and_read_head(req, bytes, parser, upstream_problem);
    if (closing_) co_return Step::closing;
    if (!ec) co_return Step::go_on;
    close_upstream();
    const bool stale = reused && attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::eof || is_reset(ec));
    if (stale) continue;
    const std::string why = upstream_problem.empty() ? ec.message() : upstream_problem;
    emit("http.upstream_error", {{"method", x.method}, {"path", x.target}, {"error", why}});
    const HttpAnswer failed{502, "application/json", http_error_body(-32603, "faultline: upstream: " + why)};
    co_await answer(x, failed, true);
    co_return Step::answered;
  }
}

asio::awaitable<boost::system::error_code> HttpSession::send_and_read_head(const Request& req, const std::string& bytes,
                                                                           std::optional<ResponseParser>& parser,
                                                                           std::string& problem) {
  const auto wec = co_await write_out(Direction::upstream, bytes, Clock::now());
  if (closing_ || wec) co_return wec;
  // Skip interim 1xx answers (100 Continue) after passing them on.
  for (;;) {
    parser.emplace();
    parser->header_limit(kHeaderLimit);
    parser->body_limit(boost::none);
    if (req.method() == http::verb::head) parser->skip(true);
    const auto rec = co_await feed(server_, server_buffer_, *parser, true, problem);
    if (closing_ || rec) co_return rec;
    const int status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) co_return rec;
    co_await send_client(response_head(parser->get().base()));
  }
}

asio::awaitable<bool> HttpSession::relay_response(const Request& req, Exchange& x, ResponseParser& parser,
                                                  std::vector<WireFrame> replies) {
  auto& res = parser.get();
  const int status = res.result_int();
  const auto type = mcp::body_type(res[http::field::content_type]);
  record_response(x, res.base(), type);
  const bool upstream_keep = parser.keep_alive();
  x.keep_alive = x.keep_alive && upstream_keep;
  auto watch = watch_client();
  bool keep = false;
  if (type == mcp::BodyType::event_stream && status / 100 == 2 && req.method() != http::verb::head) {
    keep = co_await relay_sse(parser, x, std::move(replies));
  } else {
    keep = co_await relay_body(parser, x, std::move(replies), req.method() == http::verb::head);
  }
  watch->emit(asio::cancellation_type::terminal);
  if (req.method() == http::verb::delete_ && status / 100 == 2 && !x.session.empty())
    state_->end_session(x.session, number_, Clock::now());
  if (!upstream_keep) close_upstream();
  co_return keep && x.keep_alive;
}

// The response's head: the session the server named (the exchange's records
// move to it), a lost session, and the exchange's http.request.
void HttpSession::record_response(Exchange& x, const http::response_header<>& res, mcp::BodyType type) {
  const int status = res.result_int();
  const std::string response_session(res[kSessionHeader]);
  if (!response_session.empty() && x.session.empty()) {
    state_->adopt(x.key, response_session, number_);
    x.key = x.session = response_session;
  }
  if (status == 404 && !x.session.empty()) state_->note_lost(x.session, number_, status, false);
  nlohmann::json f = {{"method", x.method}, {"path", x.target}, {"status", status}, {"frames", x.frames},
                      {"ms", std::chrono::duration<double, std::milli>(Clock::now() - x.started).count()},
                      {"response", type == mcp::BodyType::event_stream ? "sse" : type == mcp::BodyType::json ? "json" : "other"}};
  if (!x.session.empty()) f["session"] = x.session;
  emit("http.request", std::move(f));
}

// ---------------------------------------------------------------- a JSON (or other) body

asio::awaitable<bool> HttpSession::read_body(ResponseParser& parser, std::string& body) {
  while (!parser.is_done()) {
    char piece[kReadPiece];
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    auto [ec, n] = co_await http::async_read(server_, server_buffer_, parser, use_tuple);
    if (closing_) co_return false;
    if (ec == http::error::need_buffer) ec = {};
    body.append(piece, sizeof piece - parser.get().body().size);
    if (ec || body.size() > kMaxResponseBytes) {
      const bool cut = is_reset(ec) || ec == http::error::partial_message || ec == asio::error::eof;
      close(CloseMode::rst, cut ? By::server : By::proxy, cut ? "rst" : "error",
            "response body from server: " + (ec ? ec.message() : "larger than the limit"));
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> HttpSession::relay_body(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies,
                                              bool head_only) {
  auto self = shared_from_this();
  std::string body;
  const bool has_body = !head_only && !parser.is_done();
  const bool read = co_await read_body(parser, body);
  if (!read) co_return false;
  http::response<http::empty_body> head(parser.get().base());
  const bool json = mcp::body_type(head[http::field::content_type]) == mcp::BodyType::json;
  std::vector<WireFrame> frames;
  if (json && !body.empty()) frames = observe_body(body, x.key, x.session, mcp::Peer::server);

  const bool had_frames = !frames.empty();
  bool changed = false;
  if (had_frames) {
    std::vector<WireFrame> none;  // a response's faults answer nothing in the server's place
    changed = co_await through_frame_faults(Direction::downstream, x.key, frames, none);
    if (closing_) co_return false;
  }
  for (const auto& f : frames) state_->note_delivered(x.key, f.frame);
  if (!replies.empty()) {  // faults answered some of the request's messages: their answers come first
    frames.insert(frames.begin(), std::make_move_iterator(replies.begin()), std::make_move_iterator(replies.end()));
    changed = true;
    if (!had_frames) {
      head.result(http::status::ok);
      head.set(http::field::content_type, "application/json");
    }
  }
  if (changed) {
    if (frames.empty()) {  // every message dropped: the answer never comes
      head.result(http::status::accepted);
      head.erase(http::field::content_type);
      body.clear();
    } else {
      body = encode_frames(std::move(frames));
    }
  }
  const bool chunked = head.chunked();
  const bool delimited = chunked || head.has_content_length();
  if (changed && !chunked) head.content_length(body.size());
  std::string text = response_head(head.base());
  if (chunked) {
    if (!body.empty()) text += chunk(body);
    text += "0\r\n\r\n";
  } else {
    text += body;
  }
  co_await send_client(std::move(text));
  if (!delimited && has_body && !changed) co_return false;  // the body ended with the server's close: so does ours
  co_return true;
}

// ---------------------------------------------------------------- messages and frame faults

std::vector<WireFrame> HttpSession::observe_body(std::string_view body, const std::string& key,
                                                const std::string& session, mcp::Peer from) {
  std::vector<mcp::Frame> decoded;
  mcp::decode_http_body(body, decoded, mcp::HttpBodyOptions{max_body_, {}});
  std::vector<WireFrame> frames;
  const auto at = Clock::now();
  for (auto& f : decoded) {
    WireFrame wf;
    wf.method = state_->observe(key, number_, from, f, at, false);
    wf.frame = std::move(f);
    wf.arrival = at;
    wf.session = session;
    frames.push_back(std::move(wf));
  }
  return frames;
}

std::shared_ptr<Flow> HttpSession::make_flow(Direction dir, std::string key, Flow::Deliver deliver) {
  auto flow = std::make_shared<Flow>(*this, dir, std::move(key), std::move(deliver));
  flow->build();
  return flow;
}

asio::awaitable<bool> HttpSession::through_frame_faults(Direction dir, const std::string& key,
                                                       std::vector<WireFrame>& frames,
                                                       std::vector<WireFrame>& replies) {
  auto collected = std::make_shared<std::vector<WireFrame>>();
  auto flow = make_flow(dir, key, [collected](WireFrame f) -> asio::awaitable<void> {
    collected->push_back(std::move(f));
    co_return;
  });
  if (flow->empty()) co_return false;
  const FramesSeen before = frames_seen(frames);
  for (auto& f : frames) co_await flow->frame(std::move(f));
  co_await flow->finish();
  frames = std::move(*collected);
  replies = std::move(flow->replies);
  co_return !same_frames(frames, before);
}

bool HttpSession::has_frame_faults(Direction dir) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [dir](const auto& s) { return !s->http_stage() && s->direction() == dir && !s->removed(); });
}

bool HttpSession::has_http_faults(Direction dir) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [dir](const auto& s) { return s->http_stage() && s->direction() == dir && !s->removed(); });
}

void HttpSession::finish_exchange(Exchange& x) {
  if (x.key.starts_with("~")) state_->drop_temp(x.key);
}

}  // namespace faultline::http_link
