#include "core/json_depth.hpp"

#include <cstring>

namespace faultline {

std::size_t json_too_deep_at(std::string_view text, std::size_t max_depth) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  std::size_t depth = 0;
  for (const char* p = begin; p < end; ++p) {
    switch (*p) {
      case '"':
        // Skip the string: find its closing quote, one not escaped.
        for (++p; p < end; ++p) {
          const auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
          if (!q) return std::string_view::npos;
          std::size_t backslashes = 0;
          for (const char* b = q; b > p && b[-1] == '\\'; --b) ++backslashes;
          p = q;
          if (backslashes % 2 == 0) break;
        }
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return static_cast<std::size_t>(p - begin);
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return std::string_view::npos;
}

}  // namespace faultline
