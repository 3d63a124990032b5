#pragma once
// A frame fault's `match`: which messages it acts on, by method (exact, or a
// prefix ending in '*'), id, kind (request, response, error, notification,
// invalid) and MCP session (http links only). Empty fields match everything.
// Applied by the FrameChain.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/frame_fault.hpp"

namespace faultline {

struct FrameMatch {
  std::string method;
  std::optional<mcp::MessageId> id;
  std::vector<mcp::FrameKind> kinds;
  std::string session;  // an Mcp-Session-Id; frames of no (or another) session do not match

  bool empty() const { return method.empty() && !id && kinds.empty() && session.empty(); }
  bool matches(const WireFrame& frame) const;
  nlohmann::json to_json() const;
};

// Parses a match object {method, id, kind, session}; kind is a name or an array of names.
FrameMatch parse_frame_match(const nlohmann::json& match, const std::string& pointer);

// "request|response" -> kinds; throws ConfigError naming `where`.
std::vector<mcp::FrameKind> parse_frame_kinds(const nlohmann::json& value, const std::string& where);

}  // namespace faultline
