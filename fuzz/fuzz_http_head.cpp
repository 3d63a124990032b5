// libFuzzer target: HTTP/1.1 requests and responses (heads; bodies chunked, by Content-Length, to EOF) read
// as the http link reads them (proxy/http_session.cpp: Beast's parsers with the link's limits, fed by its
// feed() loop, each head checked by framing_problem() and bare_line_feed_at() of proxy/http_framing.hpp),
// fed whole and in random splits. Invariants, for every message the link accepts:
//   - whole and split feeding give the same messages and bodies, and end alike: cleanly, or refused
//     (the reason may differ: a line both broken and unfinished fails as broken only when it came whole);
//   - the head is within the link's limit; no two different Content-Length values; Transfer-Encoding only
//     as "chunked" alone on HTTP/1.1 and never beside Content-Length; Beast's framing (parser.chunked())
//     agrees with what the link reads from the message (message::chunked());
//   - field names are tokens, values hold no CR, LF or NUL; a request body stays within the body limit;
//   - the bytes the link forwards (its head rendering, its de-chunking of requests, its re-chunking of
//     responses) parse, in one piece and with nothing left over, to the same message and body;
//   - nothing throws.
// Link behaviours still open are "hazards" (kHazards): reported once per process with the input, and
// FAULTLINE_FUZZ_STRICT=1 makes them abort.
//
// Input: byte 0 bit 0: a response stream (else requests); bit 1: small limits (head 512 bytes, request
// body 1024, reads and body pieces of 61 bytes) instead of the link's; bits 2-7: response n answers a
// HEAD request. Byte 1: the seed of the splits. The rest: the bytes one side sends.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "fuzz/fuzz_check.hpp"
#include "mcp/http_body.hpp"
#include "proxy/http_framing.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace mcp = faultline::mcp;
using faultline::chunk;
using faultline::request_head;
using faultline::response_head;
namespace net = boost::asio;
using boost::system::error_code;

// The link's settings (proxy/http_session.cpp: kHeaderLimit, kMaxBodyBytes, kReadPiece, kUnparsedLimit).
constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
constexpr std::size_t kReadPiece = 16 * 1024;
constexpr std::size_t kUnparsedLimit = kHeaderLimit + kReadPiece;
constexpr int kMaxMessages = 8;

struct Limits {
  std::size_t header;
  std::size_t request_body;
  std::size_t piece;     // a socket read, and a body piece
  std::size_t unparsed;  // the read buffer's max_size
};

// ---- hazards: shapes Beast accepts that the link must refuse (or frame) itself ----

enum Hazard : unsigned {
  kTerminatorNoBody = 1,  // the link writes a chunked terminator after a response that has no body (HEAD, 204, 304)
};

constexpr std::pair<Hazard, const char*> kHazards[] = {
    {kTerminatorNoBody, "the link appends 0\\r\\n\\r\\n to a chunked response that has no body (HEAD, 204, 304): "
                        "the client reads it as the start of the next response"},
};

std::string printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 600)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else out += static_cast<char>(c);
  }
  if (bytes.size() > 600) out += "...";
  return out;
}

unsigned g_reported = 0;

void report_hazards(unsigned found, std::string_view stream, bool response) {
  static const bool strict = std::getenv("FAULTLINE_FUZZ_STRICT") != nullptr;
  for (const auto& [bit, what] : kHazards) {
    if (!(found & bit) || (g_reported & bit && !strict)) continue;
    g_reported |= bit;
    std::fprintf(stderr, "fuzz_http_head: HAZARD (%s stream): %s\n  input: \"%s\"\n", response ? "response" : "request",
                 what, printable(stream).c_str());
    if (strict) std::abort();
  }
}

// ---- the byte source: a stream whose reads return the input whole or in seeded pieces ----

class PieceStream {
 public:
  PieceStream(std::string_view data, std::optional<std::uint32_t> seed) : data_(data), seed_(seed) {
    if (seed_) state_ = *seed_ * 2246822519u + 7;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    if (at_ == data_.size()) {
      ec = net::error::eof;
      return 0;
    }
    std::size_t n = data_.size() - at_;
    if (seed_) {
      state_ = state_ * 1664525u + 1013904223u;
      const std::uint32_t r = state_ >> 8;
      n = std::min(n, std::size_t{1} + (r % 16 == 0 ? r % 4096 : r % 48));
    }
    n = net::buffer_copy(buffers, net::buffer(data_.data() + at_, n));
    at_ += n;
    ec = {};
    return n;
  }
  std::size_t unread() const { return data_.size() - at_; }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view data_;
  std::optional<std::uint32_t> seed_;
  std::uint32_t state_ = 0;
  std::size_t at_ = 0;
};

// ---- what one message was, as the link sees it ----

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Seen {
  std::string start;  // method target version, or version status reason
  Fields fields;
  std::string body;
  bool parser_chunked = false;
  std::optional<std::uint64_t> content_length;
  bool keep_alive = false;
  std::string forwarded;  // the bytes the link writes for it
  bool forwarded_delimited = true;
  bool head_only = false;
  unsigned hazards = 0;

  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> messages;
  error_code end;
};

template <class FieldsT>
Fields fields_of(const FieldsT& f) {
  Fields out;
  for (const auto& field : f) out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

bool is_tchar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Trimmed, comma-separated items of a list field value (empty items dropped).
std::vector<std::string> list_items(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return items;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The framing of a head the link accepted: one way to delimit its body, the same for Beast's parser,
// for the message the link goes by, and for a strict peer.
template <class Header>
void check_framing(const Header& h, bool parser_chunked, std::optional<std::uint64_t> parser_length, bool message_chunked) {
  std::vector<std::string> lengths;
  std::vector<std::string> codings;
  for (const auto& f : h) {
    const std::string_view name = f.name_string();
    const std::string_view value = f.value();
    FUZZ_CHECK(!name.empty());
    for (unsigned char c : name) FUZZ_CHECK(is_tchar(c));
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    if (f.name() == http::field::content_length) {
      for (auto& item : list_items(value)) lengths.push_back(std::move(item));
    } else if (f.name() == http::field::transfer_encoding) {
      for (auto& item : list_items(value)) codings.push_back(std::move(item));
    }
  }
  // Two different Content-Length values: never.
  for (const auto& l : lengths) {
    FUZZ_CHECK(!l.empty() && l.find_first_not_of("0123456789") == std::string::npos);
    FUZZ_CHECK(std::strtoull(l.c_str(), nullptr, 10) == std::strtoull(lengths.front().c_str(), nullptr, 10));
  }
  if (!lengths.empty()) FUZZ_CHECK(parser_length && *parser_length == std::strtoull(lengths.front().c_str(), nullptr, 10));
  // Transfer-Encoding: "chunked" alone, on HTTP/1.1, never beside Content-Length.
  if (h.count(http::field::transfer_encoding) > 0) {
    FUZZ_CHECK(h.version() == 11);
    FUZZ_CHECK(codings.size() == 1 && iequal(codings.front(), "chunked"));
    FUZZ_CHECK(lengths.empty());
    FUZZ_CHECK(parser_chunked);
  } else {
    FUZZ_CHECK(!parser_chunked);
  }
  FUZZ_CHECK(message_chunked == parser_chunked);
}

// HttpSession::feed (proxy/http_session.cpp), without the socket and the coroutine: a private member
// there, so a copy of its logic here. Parses what the buffer holds, reads more when the parser made no
// progress, counts the head whole against the limit, and refuses what framing_problem() and
// bare_line_feed_at() refuse. `head_bytes` gets the size of the head.
template <class Parser>
error_code feed(PieceStream& stream, beast::flat_buffer& buffer, Parser& parser, bool head_only, std::string& problem,
                const Limits& limits, std::size_t& head_bytes) {
  error_code ec;
  head_bytes = 0;
  bool head_checked = false;
  const auto finished = [&] { return head_only ? parser.is_header_done() : parser.is_done(); };
  for (;;) {
    if (buffer.size() > 0) {
      const bool in_head = !parser.is_header_done();
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (in_head) head_bytes += used;
      if (head_bytes > limits.header) {
        problem = "head over the limit";
        return http::error::header_limit;
      }
      if (ec && ec != http::error::need_more) return ec;
      ec = {};
      if (parser.is_header_done() && !head_checked) {
        head_checked = true;
        if (auto why = faultline::framing_problem(parser.get().base(), parser.get().version())) {
          problem = *why;
          return http::error::bad_transfer_encoding;
        }
      }
      if (finished()) return ec;
      if (used > 0) continue;
      if (parser.is_header_done() && parser.chunked()) {
        const auto* data = static_cast<const char*>(buffer.data().data());
        if (faultline::bare_line_feed_at({data, buffer.size()}) != std::string_view::npos) {
          problem = "chunked body: a line ends in a bare LF";
          return http::error::bad_chunk;
        }
      }
    }
    if (buffer.size() >= buffer.max_size()) {
      problem = "a line too long";
      return parser.is_header_done() ? http::error::bad_chunk : http::error::header_limit;
    }
    const auto room = std::min(limits.piece, buffer.max_size() - buffer.size());
    error_code rec;
    const auto n = stream.read_some(buffer.prepare(room), rec);
    buffer.commit(n);
    if (rec == net::error::eof) {
      if (!parser.got_some()) return http::error::end_of_stream;
      parser.put_eof(ec);
      return ec ? ec : http::error::partial_message;
    }
    if (rec) return rec;
  }
}

// One message parsed from `bytes` in one go, as a peer of the link would parse what it forwards.
template <bool isRequest>
struct Reparsed {
  http::message<isRequest, http::string_body> msg;
  error_code ec;
  std::size_t left = 0;  // bytes after the message
};

template <bool isRequest>
Reparsed<isRequest> reparse(const std::string& bytes, bool head_only) {
  Reparsed<isRequest> r;
  http::parser<isRequest, http::string_body> parser;
  parser.header_limit(std::numeric_limits<std::uint32_t>::max());
  parser.body_limit(boost::none);
  if (head_only) parser.skip(true);
  PieceStream stream(bytes, std::nullopt);
  beast::flat_buffer buffer;
  http::read(stream, buffer, parser, r.ec);
  if (!r.ec) r.msg = parser.release();
  r.left = buffer.size() + stream.unread();
  return r;
}

// ---- the client side: requests, as HttpSession::run() reads them and exchange() forwards them ----

Outcome read_requests(std::string_view input, std::optional<std::uint32_t> seed, const Limits& limits) {
  Outcome out;
  PieceStream stream(input, seed);
  beast::flat_buffer buffer{limits.unparsed};
  for (int i = 0; i < kMaxMessages; ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header));
    parser.body_limit(limits.request_body);
    std::string problem;
    std::size_t head_bytes = 0;
    out.end = feed(stream, buffer, parser, false, problem, limits, head_bytes);
    if (out.end) break;
    FUZZ_CHECK(head_bytes <= limits.header);
    Seen s;
    s.parser_chunked = parser.chunked();
    if (const auto length = parser.content_length()) s.content_length = *length;
    auto req = parser.release();
    s.keep_alive = req.keep_alive();  // what the link goes by (x.keep_alive)
    s.start = std::string(req.method_string()) + " " + std::string(req.target()) + " " + std::to_string(req.version());
    s.fields = fields_of(req.base());
    s.body = req.body();
    FUZZ_CHECK(s.body.size() <= limits.request_body);
    check_framing(req.base(), s.parser_chunked, s.content_length, req.chunked());
    // exchange(): a chunked request goes on with a Content-Length.
    if (req.chunked()) {
      req.chunked(false);
      req.content_length(req.body().size());
      FUZZ_CHECK(req.count(http::field::transfer_encoding) == 0);
    }
    s.forwarded = request_head(req) + req.body();
    out.messages.push_back(std::move(s));
    if (!out.messages.back().keep_alive) break;
  }
  return out;
}

void check_forwarded_request(const Seen& s) {
  const auto r = reparse<true>(s.forwarded, false);
  if (r.ec) std::fprintf(stderr, "forwarded request refused (%s): \"%s\"\n", r.ec.message().c_str(), printable(s.forwarded).c_str());
  FUZZ_CHECK(!r.ec);
  FUZZ_CHECK(r.left == 0);
  FUZZ_CHECK(std::string(r.msg.method_string()) + " " + std::string(r.msg.target()) + " " +
                 std::to_string(r.msg.version()) == s.start);
  FUZZ_CHECK(r.msg.body() == s.body);
  FUZZ_CHECK(r.msg.keep_alive() == s.keep_alive);
  // Fields as received, but for the framing the link rewrote.
  Fields expected, got = fields_of(r.msg.base());
  for (const auto& f : s.fields) expected.push_back(f);
  auto framing = [](const auto& f) { return iequal(f.first, "content-length") || iequal(f.first, "transfer-encoding"); };
  std::erase_if(expected, framing);
  std::erase_if(got, framing);
  FUZZ_CHECK(got == expected);
}

// ---- the server side: responses, as exchange() reads heads and relay_body/relay_sse bodies ----

Outcome read_responses(std::string_view input, std::optional<std::uint32_t> seed, const Limits& limits,
                       unsigned head_bits) {
  using ResponseParser = http::response_parser<http::buffer_body>;
  Outcome out;
  PieceStream stream(input, seed);
  beast::flat_buffer buffer{limits.unparsed};
  std::vector<char> piece(limits.piece);
  for (int i = 0; i < kMaxMessages; ++i) {
    const bool head_request = head_bits >> i & 1;
    std::optional<ResponseParser> parser;
    std::string interim;
    for (;;) {  // 1xx answers (but 101) are passed on and the next head read
      parser.emplace();
      parser->header_limit(static_cast<std::uint32_t>(limits.header));
      parser->body_limit(boost::none);
      if (head_request) parser->skip(true);
      std::string problem;
      std::size_t head_bytes = 0;
      out.end = feed(stream, buffer, *parser, true, problem, limits, head_bytes);
      if (out.end) break;
      FUZZ_CHECK(head_bytes <= limits.header);
      const int status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) break;
      FUZZ_CHECK(parser->is_done());
      interim += response_head(parser->get().base());
    }
    if (out.end) break;
    Seen s;
    s.head_only = head_request;
    s.parser_chunked = parser->chunked();
    if (const auto length = parser->content_length()) s.content_length = *length;
    const int status = parser->get().result_int();
    const auto type = mcp::body_type(parser->get()[http::field::content_type]);
    const bool sse = type == mcp::BodyType::event_stream && status / 100 == 2 && !head_request;
    const bool has_body = !head_request && !parser->is_done();
    while (!parser->is_done()) {
      parser->get().body().data = piece.data();
      parser->get().body().size = piece.size();
      parser->get().body().more = sse;
      if (sse) http::read_some(stream, buffer, *parser, out.end);
      else http::read(stream, buffer, *parser, out.end);
      if (out.end == http::error::need_buffer) out.end = {};
      s.body.append(piece.data(), piece.size() - parser->get().body().size);
      if (out.end) break;
    }
    if (out.end) break;
    s.keep_alive = parser->keep_alive();
    http::response<http::empty_body> head(parser->get().base());
    s.start = std::to_string(head.version()) + " " + std::to_string(head.result_int()) + " " + std::string(head.reason());
    s.fields = fields_of(head.base());
    check_framing(head.base(), s.parser_chunked, s.content_length, head.chunked());
    if (!has_body) FUZZ_CHECK(s.body.empty());
    s.forwarded = interim;
    if (sse) {
      // relay_sse: re-chunked on HTTP/1.1, to the close on 1.0; the events go as they came.
      if (head.version() == 11) {
        head.erase(http::field::content_length);
        head.chunked(true);
        FUZZ_CHECK(head.chunked() && head[http::field::transfer_encoding] == "chunked");
        s.forwarded += response_head(head.base());
        if (!s.body.empty()) s.forwarded += chunk(s.body);
        s.forwarded += "0\r\n\r\n";
      } else {
        head.erase(http::field::content_length);
        s.forwarded += response_head(head.base()) + s.body;
        s.forwarded_delimited = false;
      }
      if (status == 204 && head.version() == 11) s.hazards |= kTerminatorNoBody;
    } else {
      // relay_body, unchanged by faults.
      const bool chunked = head.chunked();
      s.forwarded += response_head(head.base());
      if (chunked) {
        if (!s.body.empty()) s.forwarded += chunk(s.body);
        s.forwarded += "0\r\n\r\n";
        if (!has_body && (head_request || status == 204 || status == 304 || status / 100 == 1)) s.hazards |= kTerminatorNoBody;
      } else {
        s.forwarded += s.body;
      }
      s.forwarded_delimited = chunked || head.has_content_length() || !has_body;
    }
    out.messages.push_back(std::move(s));
    if (!out.messages.back().keep_alive) break;
  }
  return out;
}

void check_forwarded_response(const Seen& s) {
  // The client reads the passed-on 1xx heads, then the response.
  std::string rest = s.forwarded;
  Reparsed<false> r;
  for (;;) {
    r = reparse<false>(rest, s.head_only);
    if (r.ec) std::fprintf(stderr, "forwarded response refused (%s): \"%s\"\n", r.ec.message().c_str(), printable(rest).c_str());
    FUZZ_CHECK(!r.ec);
    const int status = r.msg.result_int();
    if (status < 100 || status >= 200 || status == 101) break;
    rest = rest.substr(rest.size() - r.left);
  }
  if (s.forwarded_delimited) FUZZ_CHECK(r.left == 0);
  FUZZ_CHECK(std::to_string(r.msg.version()) + " " + std::to_string(r.msg.result_int()) + " " +
                 std::string(r.msg.reason()) == s.start);
  FUZZ_CHECK(r.msg.body() == s.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool response = data[0] & 1;
  const Limits limits =
      data[0] & 2 ? Limits{512, 1024, 61, 512 + 61} : Limits{kHeaderLimit, kMaxBodyBytes, kReadPiece, kUnparsedLimit};
  const unsigned head_bits = data[0] >> 2;
  const std::uint32_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  try {
    const Outcome whole = response ? read_responses(stream, std::nullopt, limits, head_bits)
                                   : read_requests(stream, std::nullopt, limits);
    const Outcome split = response ? read_responses(stream, seed, limits, head_bits) : read_requests(stream, seed, limits);
    if (std::getenv("FUZZ_HTTP_DEBUG")) {
      for (const auto* o : {&whole, &split}) {
        std::fprintf(stderr, "%s: %zu messages, end: %s\n", o == &whole ? "whole" : "split", o->messages.size(),
                     o->end.message().c_str());
        for (const auto& m : o->messages)
          std::fprintf(stderr, "  [%s] %zu fields, body %zu bytes, hazards %u\n", printable(m.start).c_str(), m.fields.size(),
                       m.body.size(), m.hazards);
      }
    }
    FUZZ_CHECK(whole.messages.size() == split.messages.size());
    for (std::size_t i = 0; i < whole.messages.size(); ++i) FUZZ_CHECK(whole.messages[i] == split.messages[i]);
    unsigned hazards = 0;
    if (whole.end != split.end) {
      // Refused both ways, for reasons that depend on what the parser had seen: a head or chunk line
      // both broken and unfinished fails as broken (bad_field, bad chunk extension) when it came whole,
      // and as partial_message, header_limit or the link's bare-LF check when it came in pieces.
      const auto refused = [](const error_code& ec) { return ec && ec != http::error::end_of_stream; };
      if (!refused(whole.end) || !refused(split.end)) {
        std::fprintf(stderr, "whole: %s, split: %s\n", whole.end.message().c_str(), split.end.message().c_str());
        FUZZ_CHECK(whole.end == split.end);
      }
    }

    for (const auto& s : whole.messages) {
      hazards |= s.hazards;
      if (s.hazards) continue;  // reported below: the forwarded bytes are known not to frame it right
      if (response) check_forwarded_response(s);
      else check_forwarded_request(s);
    }
    if (hazards) report_hazards(hazards, stream, response);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_http_head: exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
