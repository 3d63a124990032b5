#include "mcp/json_spans.hpp"

#include <cstring>

namespace faultline::mcp {
namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Offset one past the closing quote of the string whose opening quote is at `pos`.
std::size_t skip_string(std::string_view text, std::size_t pos) {
  ++pos;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '\\') {
      pos += 2;
    } else if (c == '"') {
      return pos + 1;
    } else {
      ++pos;
    }
  }
  return text.size();
}

// Offset one past the value starting at `pos` (containers skipped by depth).
std::size_t skip_value(std::string_view text, std::size_t pos) {
  std::size_t depth = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      pos = skip_string(text, pos);
      if (depth == 0) return pos;
      continue;
    }
    if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return pos;  // end of the enclosing container: scalar ended
      if (--depth == 0) return pos + 1;
    } else if (depth == 0 && (c == ',' || is_json_space(c))) {
      return pos;
    }
    ++pos;
  }
  return pos;
}

std::size_t skip_space(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_json_space(text[pos])) ++pos;
  return pos;
}

// Where the JSON text starts: after a UTF-8 byte order mark (nlohmann skips one) and whitespace.
std::size_t text_start(std::string_view text) {
  return skip_space(text, text.starts_with("\xEF\xBB\xBF") ? 3 : 0);
}

}  // namespace

void array_element_spans(std::string_view text, std::vector<ByteSpan>& out) {
  std::size_t pos = text_start(text);
  if (pos >= text.size() || text[pos] != '[') return;
  pos = skip_space(text, pos + 1);
  while (pos < text.size() && text[pos] != ']') {
    const std::size_t end = skip_value(text, pos);
    out.push_back({pos, end});
    pos = skip_space(text, end);
    if (pos < text.size() && text[pos] == ',') pos = skip_space(text, pos + 1);
  }
}

std::size_t top_level_key_offset(std::string_view text, std::string_view key) {
  std::size_t pos = text_start(text);
  if (pos >= text.size() || text[pos] != '{') return std::string_view::npos;
  pos = skip_space(text, pos + 1);
  while (pos < text.size() && text[pos] == '"') {
    const std::size_t key_end = skip_string(text, pos);
    const std::string_view spelled = text.substr(pos + 1, key_end - pos - 2);
    if (spelled == key) return pos;
    pos = skip_space(text, key_end);
    if (pos < text.size() && text[pos] == ':') pos = skip_space(text, pos + 1);
    pos = skip_space(text, skip_value(text, pos));
    if (pos < text.size() && text[pos] == ',') pos = skip_space(text, pos + 1);
  }
  return std::string_view::npos;
}

}  // namespace faultline::mcp
