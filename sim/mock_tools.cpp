#include "sim/mock_tools.hpp"

namespace faultline::sim {
namespace {

nlohmann::json tool(const char* name, const char* description, nlohmann::json properties,
                    nlohmann::json required = nlohmann::json::array()) {
  return {{"name", name},
          {"description", description},
          {"inputSchema", {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}}}};
}

const nlohmann::json& argument(const nlohmann::json& arguments, const std::string& name) {
  static const nlohmann::json absent;
  if (!arguments.is_object()) return absent;
  auto it = arguments.find(name);
  return it == arguments.end() ? absent : *it;
}

}  // namespace

nlohmann::json mock_tool_definitions(int extra_tools) {
  using J = nlohmann::json;
  J tools = J::array({
      tool("echo", "Returns the message it was given", {{"message", {{"type", "string"}}}}, {"message"}),
      tool("add", "Adds two numbers", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}, {"a", "b"}),
      tool("sleep", "Answers after ms milliseconds (notifications/cancelled ends it early)",
           {{"ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 3600000}}}}, {"ms"}),
      tool("flaky", "Fails with probability p (a tool error), else succeeds",
           {{"p", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}, {"p"}),
      tool("large", "Returns a text of that many bytes", {{"bytes", {{"type", "integer"}, {"minimum", 0}, {"maximum", 67108864}}}},
           {"bytes"}),
      tool("crash_after", "The n-th call of this tool crashes the server (it exits without answering)",
           {{"n", {{"type", "integer"}, {"minimum", 1}}}}, {"n"}),
      tool("notify", "Adds a tool to the list and sends notifications/tools/list_changed", J::object()),
      tool("progress", "Sends `steps` progress notifications `interval` ms apart, then answers",
           {{"steps", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10000}}},
            {"interval", {{"type", "integer"}, {"minimum", 0}, {"maximum", 60000}}}},
           {"steps"}),
  });
  for (int i = 1; i <= extra_tools; ++i) {
    const auto name = "extra_" + std::to_string(i);
    tools.push_back(tool(name.c_str(), "Added by the notify tool; echoes its message", {{"message", {{"type", "string"}}}}, {"message"}));
  }
  return tools;
}

nlohmann::json mock_resources() {
  return nlohmann::json::array({{{"uri", "faultline://mock/readme"},
                                 {"name", "readme"},
                                 {"description", "What this mock server is"},
                                 {"mimeType", "text/plain"}}});
}

nlohmann::json mock_prompts() {
  return nlohmann::json::array({{{"name", "greet"},
                                 {"description", "A greeting for `name`"},
                                 {"arguments", nlohmann::json::array({{{"name", "name"}, {"required", true}}})}}});
}

nlohmann::json text_result(const std::string& text, bool is_error) {
  nlohmann::json result = {{"content", nlohmann::json::array({{{"type", "text"}, {"text", text}}})}};
  if (is_error) result["isError"] = true;
  return result;
}

std::int64_t integer_argument(const nlohmann::json& arguments, const std::string& name, std::int64_t min,
                              std::int64_t max, std::optional<std::int64_t> fallback) {
  const auto& value = argument(arguments, name);
  if (value.is_null() && fallback) return *fallback;
  if (!value.is_number_integer() || value.get<std::int64_t>() < min || value.get<std::int64_t>() > max)
    throw ArgumentError("argument " + name + " must be a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max));
  return value.get<std::int64_t>();
}

double number_argument(const nlohmann::json& arguments, const std::string& name, double min, double max) {
  const auto& value = argument(arguments, name);
  if (!value.is_number() || !(value.get<double>() >= min && value.get<double>() <= max))
    throw ArgumentError("argument " + name + " must be a number from " + std::to_string(min) + " to " +
                        std::to_string(max));
  return value.get<double>();
}

std::string string_argument(const nlohmann::json& arguments, const std::string& name) {
  const auto& value = argument(arguments, name);
  if (!value.is_string()) throw ArgumentError("argument " + name + " must be a string");
  return value.get<std::string>();
}

}  // namespace faultline::sim
