// An SSE response of an HttpSession, relayed event by event as it arrives:
// each event's messages recorded, the HTTP faults asked (close_sse,
// strip_event_ids, ...), the messages taken through the stream's frame
// faults and written in the event they came in. A stream with no faults to
// meet goes out byte for byte as read. Each sse.open gets one sse.close.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/http_framing.hpp"
#include "proxy/http_session_impl.hpp"

namespace faultline::http_link {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<bool> HttpSession::relay_sse(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies) {
  auto self = shared_from_this();
  auto stream = co_await open_sse(parser, x);
  if (!stream) co_return false;
  auto flow = make_flow(Direction::downstream, x.key, [self, stream](WireFrame f) -> asio::awaitable<void> {
    co_await self->write_sse_frame(*stream, std::move(f));
  });
  const bool transparent = flow->empty() && !has_http_faults(Direction::downstream);
  for (auto& r : replies) co_await write_sse_frame(*stream, std::move(r));
  const std::string how = co_await pump_sse(parser, *stream, *flow, transparent);
  if (how.empty()) co_return false;  // the link is closing: close() recorded the stream's end
  co_await flow->finish();
  if (closing_) co_return false;
  close_stream(*stream, how, "");
  const bool keep = co_await end_sse(*stream, how);
  co_return keep;
}

asio::awaitable<std::shared_ptr<HttpSession::SseStream>> HttpSession::open_sse(ResponseParser& parser, Exchange& x) {
  auto stream = std::make_shared<SseStream>();
  stream->number = state_->next_stream();
  stream->method = x.method;
  stream->target = x.target;
  stream->key = x.key;
  stream->session = x.session;
  http::response<http::empty_body> head(parser.get().base());
  if (head.version() == 11) {
    head.erase(http::field::content_length);
    head.chunked(true);
  } else {
    stream->chunked = false;
    head.erase(http::field::content_length);
    x.keep_alive = false;
  }
  co_await send_client(response_head(head.base()));
  if (closing_) co_return nullptr;
  nlohmann::json open = {{"stream", stream->number}, {"method", x.method}, {"path", x.target}};
  if (!x.session.empty()) open["session"] = x.session;
  if (!x.last_event_id.empty()) open["last_event_id"] = x.last_event_id;
  open_stream_ = stream;  // from here on closed once: by the relay, or by close()
  emit("sse.open", std::move(open));
  if (x.method == "GET" && !x.session.empty()) state_->note_stream(x.session, number_, true, x.last_event_id);
  co_return stream;
}

asio::awaitable<std::string> HttpSession::pump_sse(ResponseParser& parser, SseStream& stream, Flow& flow,
                                                   bool transparent) {
  mcp::SseDecoder decoder;
  std::vector<mcp::SseEvent> events;
  while (!parser.is_done()) {
    char piece[kReadPiece];
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    parser.get().body().more = true;
    auto [ec, n] = co_await http::async_read_some(server_, server_buffer_, parser, use_tuple);
    if (closing_) co_return "";
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t got = sizeof piece - parser.get().body().size;
    stream.bytes += got;
    const std::string_view data(piece, got);
    events.clear();
    decoder.feed(data, events);
    const bool done = parser.is_done();
    if (ec || done) decoder.finish(events);
    if (transparent && !data.empty()) {
      std::string bytes_out = stream.chunked ? chunk(data) : std::string(data);
      co_await send_client(std::move(bytes_out));
    }
    SseAction cut = SseAction::pass;
    for (auto& event : events) {
      cut = co_await deliver_event(stream, flow, transparent, std::move(event));
      if (cut != SseAction::pass || closing_) break;
    }
    if (closing_) co_return "";
    if (cut != SseAction::pass) co_return cut == SseAction::end_stream ? "fault_end" : "fault_close";
    if (ec) co_return ec == http::error::partial_message || ec == asio::error::eof ? "server_cut" : "server_error";
    if (done) break;
  }
  co_return "end";
}

asio::awaitable<bool> HttpSession::end_sse(SseStream& stream, const std::string& how) {
  std::string last_chunk = "0\r\n\r\n";
  if (how == "end") {
    if (stream.chunked) co_await send_client(std::move(last_chunk));
    co_return stream.chunked;
  }
  close_upstream();  // the server's response was cut or abandoned
  if (how == "fault_end") {
    co_await send_client(std::move(last_chunk));
    co_return true;
  }
  if (how == "fault_close") {
    co_await flush_client();
  } else {
    co_await end_streams(Direction::downstream);  // the server's close reaches the client through the byte faults
  }
  close(CloseMode::fin, how == "fault_close" ? By::proxy : By::server, how == "fault_close" ? "fault" : "fin",
        how == "fault_close" ? "close_sse fault cut the SSE stream" : "server cut the SSE stream");
  co_return false;
}

// ---------------------------------------------------------------- event by event

asio::awaitable<SseAction> HttpSession::deliver_event(SseStream& stream, Flow& flow, bool transparent,
                                                      mcp::SseEvent event) {
  ++stream.events;
  if (!event.complete) {
    emit("sse.invalid", {{"session", stream.session},
                         {"offset", event.offset},
                         {"bytes", event.raw.size()},
                         {"problem", event.problem.value_or("incomplete event")}});
  }
  adopt_endpoint_session(stream, flow, event);
  auto frames = observe_event(stream, event);
  if (transparent) {  // already written as it arrived
    for (const auto& wf : frames) state_->note_delivered(stream.key, wf.frame);
    co_return SseAction::pass;
  }

  const auto id_before = event.id;
  const auto retry_before = event.retry;
  const auto action = event_http_faults(stream, event, frames);
  if (action != SseAction::pass) co_return action;
  stream.first = false;
  const bool edited = event.id != id_before || event.retry != retry_before;
  if (frames.empty() || flow.empty()) {
    for (const auto& wf : frames) state_->note_delivered(stream.key, wf.frame);
    co_await write_event(stream, event, edited);
    co_return SseAction::pass;
  }
  stream.recent[event.offset] = {event, edited};
  while (stream.recent.size() > kKeptEvents) stream.recent.erase(stream.recent.begin());
  for (auto& wf : frames) co_await flow.frame(std::move(wf));
  co_return SseAction::pass;
}

void HttpSession::adopt_endpoint_session(SseStream& stream, Flow& flow, const mcp::SseEvent& event) {
  if (event.event_type() != "endpoint" || !stream.session.empty()) return;
  const auto sid = query_param(event.data, "sessionId");
  if (sid.empty()) return;
  state_->adopt(stream.key, sid, number_);
  stream.key = stream.session = sid;
  stream.legacy = true;
  flow.key = sid;
  state_->note_stream(sid, number_, true, "");
  state_->note_legacy_session(sid, client_host());
}

std::vector<WireFrame> HttpSession::observe_event(SseStream& stream, const mcp::SseEvent& event) {
  std::vector<mcp::Frame> decoded;
  mcp::decode_sse_frames(event, decoded);
  std::vector<WireFrame> frames;
  const auto at = Clock::now();
  for (auto& f : decoded) {
    WireFrame wf;
    wf.method = state_->observe(stream.key, number_, mcp::Peer::server, f, at, false);
    wf.frame = std::move(f);
    wf.arrival = at;
    wf.session = stream.session;
    frames.push_back(std::move(wf));
  }
  return frames;
}

SseAction HttpSession::event_http_faults(SseStream& stream, mcp::SseEvent& event, const std::vector<WireFrame>& frames) {
  const auto slots = slots_;
  for (const auto& slot : slots) {
    if (!slot->http_stage() || slot->removed() || slot->direction() != Direction::downstream) continue;
    const bool matched = any_match(slot->frame_spec().match, frames, stream.session) && slot->roll();
    const auto action = slot->http_stage()->on_sse_event(event, matched, stream.first, *slot);
    if (action != SseAction::pass) return action;
  }
  return SseAction::pass;
}

asio::awaitable<void> HttpSession::write_event(SseStream& stream, const mcp::SseEvent& event, bool edited) {
  std::string text;
  if (edited) {
    mcp::append_sse_event(event, text);
  } else {
    text = event.raw;
  }
  if (text.empty()) co_return;
  if (stream.chunked) text = chunk(text);
  co_await send_client(std::move(text));
}

// The sink of an SSE stream's chain: a frame goes out in the event it came in
// (as it was, or as a fault edited it), or in a new event of its own.
asio::awaitable<void> HttpSession::write_sse_frame(SseStream& stream, WireFrame frame) {
  state_->note_delivered(stream.key, frame.frame);
  auto it = stream.recent.find(frame.frame.offset);
  if (it != stream.recent.end() && !frame.frame.batch && frame.frame.raw == it->second.first.data) {
    co_await write_event(stream, it->second.first, it->second.second);
    co_return;
  }
  mcp::SseEvent event;
  if (it != stream.recent.end()) {
    event.id = it->second.first.id;
    event.type = it->second.first.type;
  }
  event.data = frame.frame.raw;
  event.has_data = true;
  co_await write_event(stream, event, true);
}

// ---------------------------------------------------------------- the stream's end

void HttpSession::close_stream(SseStream& stream, const std::string& how, const std::string& reason) {
  if (stream.closed) return;
  stream.closed = true;
  if (open_stream_.get() == &stream) open_stream_.reset();
  nlohmann::json f = {{"stream", stream.number}, {"method", stream.method}, {"path", stream.target},
                      {"session", stream.session}, {"events", stream.events}, {"bytes", stream.bytes},
                      {"how", how}};
  if (!reason.empty()) f["reason"] = reason;
  emit("sse.close", std::move(f));
  // The legacy client reconnects to a new session when its stream breaks; not when it closed the stream.
  if (stream.legacy && how != "client_closed" && how != "link_stopping")
    state_->note_legacy_break(stream.session, client_host());
}

std::string HttpSession::stream_end() const {
  const auto by = first_by_.value_or(By::proxy);
  if (by == By::client) return "client_closed";
  if (by == By::server) return "server_cut";
  if (first_how_ == "shutdown" || first_how_ == "drain") return "link_stopping";
  return first_how_ == "fault" ? "fault" : "error";
}

std::string HttpSession::client_host() const {
  const auto colon = client_address_.rfind(':');
  return colon == std::string::npos ? client_address_ : client_address_.substr(0, colon);
}

}  // namespace faultline::http_link
