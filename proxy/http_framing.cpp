#include "proxy/http_framing.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace faultline {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void append_fields(const boost::beast::http::fields& fields, std::string& out) {
  for (const auto& f : fields) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<std::string> framing_problem(const boost::beast::http::fields& fields, unsigned version) {
  namespace http = boost::beast::http;
  std::string codings;  // every Transfer-Encoding field, joined as one list
  std::size_t count = 0;
  for (const auto& f : fields) {
    if (f.name() != http::field::transfer_encoding) continue;
    if (count++) codings += ", ";
    codings += f.value();
  }
  if (count == 0) return std::nullopt;
  if (version < 11) return "Transfer-Encoding in an HTTP/1.0 message";
  if (!iequals(trim(codings), "chunked"))
    return "Transfer-Encoding \"" + codings + "\": a proxy forwards only \"chunked\" alone";
  return std::nullopt;
}

std::size_t bare_line_feed_at(std::string_view unparsed) {
  for (std::size_t at = unparsed.find('\n'); at != std::string_view::npos; at = unparsed.find('\n', at + 1))
    if (at == 0 || unparsed[at - 1] != '\r') return at;
  return std::string_view::npos;
}

std::string request_head(const boost::beast::http::request_header<>& head) {
  std::string out;
  out += head.method_string();
  out += ' ';
  out += head.target();
  out += head.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  append_fields(head, out);
  return out;
}

std::string response_head(const boost::beast::http::response_header<>& head) {
  std::string out = head.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char status[8];  // three digits always: Beast accepts "000", which "0" would not reproduce
  std::snprintf(status, sizeof status, "%03u", head.result_int() % 1000);
  out += status;
  out += ' ';
  out += head.reason();
  out += "\r\n";
  append_fields(head, out);
  return out;
}

std::string chunk(std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size, static_cast<std::size_t>(n));
  out += data;
  out += "\r\n";
  return out;
}

}  // namespace faultline
