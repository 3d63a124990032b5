#pragma once
// For the config fuzzers: whether the place an error names (a JSON pointer, as
// faultline writes them) exists in the document the error is about, and a
// once-per-process report for findings that should not stop the fuzzer.

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::fuzz {

// Prints `what` with `input` the first time `what` is seen in this process.
// FAULTLINE_FUZZ_STRICT=1 turns a report into an abort, so the input is saved.
inline void report_once(const std::string& what, std::string_view input) {
  static std::set<std::string> seen;
  static const bool strict = std::getenv("FAULTLINE_FUZZ_STRICT") != nullptr;
  if (!seen.insert(what).second && !strict) return;
  std::string shown;
  for (unsigned char c : input.substr(0, 400)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      shown += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      shown += hex;
    }
  }
  std::fprintf(stderr, "FINDING: %s\n  input: \"%s\"%s\n", what.c_str(), shown.c_str(), input.size() > 400 ? "..." : "");
  if (strict) std::abort();
}

namespace detail {

inline std::string unescape_token(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

inline bool resolve(const nlohmann::json& node, const std::vector<std::string>& tokens, std::size_t i, bool& unescaped) {
  if (i == tokens.size()) return true;
  if (node.is_object()) {
    // A key may hold '/' (faultline does not escape keys in pointers): try the longest first.
    for (std::size_t j = tokens.size(); j-- > i;) {
      std::string key = tokens[i];
      for (std::size_t k = i + 1; k <= j; ++k) key += "/" + tokens[k];
      for (const auto& candidate : {key, unescape_token(key)}) {
        auto it = node.find(candidate);
        if (it == node.end()) continue;
        if (resolve(*it, tokens, j + 1, unescaped)) {
          if (j > i || candidate.find('~') != std::string::npos) unescaped = true;
          return true;
        }
      }
    }
    return true;  // a missing member of an object that exists (a required field, say)
  }
  if (node.is_array()) {
    const auto& t = tokens[i];
    if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos) return false;
    const auto index = std::stoul(t);
    return index < node.size() && resolve(node[index], tokens, i + 1, unescaped);
  }
  return false;
}

}  // namespace detail

// Whether `where` names a place of `doc`: "" (the document), or a pointer to a
// value or to a missing member of an object in it. `unescaped` is set when a key
// holding '/' or '~' appears in it unescaped.
inline bool names_place(const nlohmann::json& doc, std::string_view where, bool& unescaped) {
  if (where.empty()) return true;
  if (where.front() != '/') return false;
  std::vector<std::string> tokens;
  std::size_t at = 1;
  for (;;) {
    const auto slash = where.find('/', at);
    tokens.emplace_back(where.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return detail::resolve(doc, tokens, 0, unescaped);
}

}  // namespace faultline::fuzz
