#pragma once
// What the mock MCP server offers: its tools (with the JSON Schemas of their
// arguments), one resource and one prompt, and the argument reading its tools
// share. The tools' behaviour lives in mock_server.cpp.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace faultline::sim {

// echo, add, sleep, flaky, large, crash_after, notify, progress, and the
// `extra_tools` the notify tool has added so far (extra_1, extra_2, ...).
nlohmann::json mock_tool_definitions(int extra_tools);
nlohmann::json mock_resources();
nlohmann::json mock_prompts();

// A tool result of one text item.
nlohmann::json text_result(const std::string& text, bool is_error = false);

// An argument that is missing or of the wrong type: answered as JSON-RPC
// error -32602 (invalid params), naming the argument.
class ArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The argument `name` of a tools/call's `arguments`, checked against [min, max].
std::int64_t integer_argument(const nlohmann::json& arguments, const std::string& name, std::int64_t min,
                              std::int64_t max, std::optional<std::int64_t> fallback = std::nullopt);
double number_argument(const nlohmann::json& arguments, const std::string& name, double min, double max);
std::string string_argument(const nlohmann::json& arguments, const std::string& name);

}  // namespace faultline::sim
