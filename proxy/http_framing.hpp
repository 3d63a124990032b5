#pragma once
// Message framing an HTTP link refuses before it forwards a byte: shapes that
// a server behind it could delimit otherwise than the link does (request
// smuggling), which Beast's parser lets through. The http session checks each
// head it parses with these, and the bytes it cannot parse yet.

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace faultline {

// Why a parsed head's framing is unsafe to forward, or nothing: a
// Transfer-Encoding other than "chunked" alone (RFC 9112 section 6.1: chunked
// must be the final coding, and a proxy that does not decode the others
// cannot delimit the body), or a Transfer-Encoding in an HTTP/1.0 message.
std::optional<std::string> framing_problem(const boost::beast::http::fields& fields, unsigned version);

// Offset of a line feed not preceded by a carriage return in bytes the
// parser could not consume yet (inside a chunked body these are a chunk
// header or the trailers, whose lines must end in CRLF), or npos. The parser
// would wait for a CRLF that never comes.
std::size_t bare_line_feed_at(std::string_view unparsed);

// A head as the link forwards it, from the parsed fields as received (names
// keep their case); a status always in three digits.
std::string request_head(const boost::beast::http::request_header<>& head);
std::string response_head(const boost::beast::http::response_header<>& head);
// One chunk of a chunked body: its size in hex, CRLF, the data, CRLF.
std::string chunk(std::string_view data);

}  // namespace faultline
