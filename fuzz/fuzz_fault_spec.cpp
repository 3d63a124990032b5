// libFuzzer target: the fault spec parsers (faults/fault_spec, frame_fault_spec, fault_text and the two
// registries), on the `TYPE,key=value,...` text of --fault and on the JSON toxic / fault objects of the
// admin API, --config and --faults. Every input must give a valid spec or a ConfigError naming a place
// (the --fault text, or a JSON pointer that exists in the input); no other exception may escape. A valid
// spec rendered as JSON text and parsed again must give the same spec; an empty update must change nothing.
//
// Input: byte 0 picks the form: 0 proxy --fault text, 1 wrap --fault text, 2 toxic JSON (POST /toxics),
// 3 frame fault JSON, 4 JSON array of frame faults (--faults), 5 [toxic, update] (POST /toxics/{name}).
// The rest is the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "faults/byte_fault_spec.hpp"
#include "faults/frame_fault_spec.hpp"
#include "faults/frame_registry.hpp"
#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_place.hpp"

namespace {

using faultline::ConfigError;
using faultline::FaultSpec;
using faultline::FrameFaultSpec;
using nlohmann::json;

std::string_view g_input;

// The JSON text of `value`; nullopt (reported) when it holds a string that is not UTF-8,
// which the admin API's body.dump() would throw on.
std::optional<std::string> json_text(const json& value, const char* what) {
  try {
    return value.dump();
  } catch (const json::type_error&) {
    faultline::fuzz::report_once(std::string("a valid ") + what + " holds a string that is not UTF-8: its JSON "
                                 "rendering throws (the admin API answers with body.dump())", g_input);
    return std::nullopt;
  }
}

json reparsed(const json& value, const char* what) {
  auto text = json_text(value, what);
  return text ? json::parse(*text) : value;
}

void check_error(const ConfigError& e, const json* doc, bool text_form) {
  const std::string& where = e.where();
  FUZZ_CHECK(*e.what() != '\0');
  if (where.find('\0') == std::string::npos) FUZZ_CHECK(std::string_view(e.what()).size() > where.size());  // says what
  if (text_form && where.starts_with("--fault ")) return;
  FUZZ_CHECK(doc != nullptr);
  bool unescaped = false;
  if (!faultline::fuzz::names_place(*doc, where, unescaped)) {
    std::fprintf(stderr, "error at \"%s\" names no place of the input: %s\n", where.c_str(), e.what());
    FUZZ_CHECK(false);
  }
  if (unescaped)
    faultline::fuzz::report_once("an error's JSON pointer holds a key with '/' or '~' unescaped (RFC 6901 wants ~1, ~0)",
                                 g_input);
  // The admin API answers {"error": what}: it must render.
  (void)json_text(json(e.what()), "error message");
}

void check_spec(const FaultSpec& spec) {
  FUZZ_CHECK(!spec.name.empty() && spec.name.find('/') == std::string::npos);
  FUZZ_CHECK(spec.toxicity >= 0.0 && spec.toxicity <= 1.0);
  FUZZ_CHECK((spec.fault != nullptr) != (spec.frame != nullptr));
  const json j = spec.to_json();
  FUZZ_CHECK(j.at("name") == spec.name && j.at("type") == spec.type);
  // Rendered as JSON text and parsed again: the same spec.
  const json again_json = reparsed(j, "fault spec");
  FaultSpec again;
  try {
    again = faultline::parse_fault(again_json, "");
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "a valid spec's JSON %s is refused: %s\n", again_json.dump(-1, ' ', false, json::error_handler_t::replace).c_str(), e.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(again.name == spec.name && again.type == spec.type && again.direction == spec.direction &&
             again.toxicity == spec.toxicity && again.is_frame() == spec.is_frame());
  FUZZ_CHECK(again.to_json() == j);
  // An empty update changes nothing.
  const FaultSpec same = faultline::update_fault_spec(spec, json::object(), "");
  FUZZ_CHECK(same.to_json() == j);
  if (spec.frame) {
    FUZZ_CHECK(spec.frame->name == spec.name && spec.frame->type == spec.type);
    for (const char* transport : {"stdio", "websocket", "http"}) {
      try {
        faultline::check_frame_fault_transport(*spec.frame, transport, "");
      } catch (const ConfigError& e) {
        FUZZ_CHECK(e.where() == "/type" || e.where() == "/attributes/after_ms" || e.where() == "/match/session");
      }
    }
  }
}

void check_frame_spec(const FrameFaultSpec& spec) {
  FUZZ_CHECK(!spec.name.empty() && spec.name.find('/') == std::string::npos);
  FUZZ_CHECK(spec.probability >= 0.0 && spec.probability <= 1.0);
  FUZZ_CHECK(spec.fault != nullptr);
  FUZZ_CHECK(faultline::find_frame_fault_type(spec.type) != nullptr);
  const json j = spec.to_json();
  const json again_json = reparsed(j, "frame fault spec");
  FrameFaultSpec again;
  try {
    again = faultline::parse_frame_fault(again_json, "");
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "a valid frame spec's JSON is refused: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(again.to_json() == j);
  FUZZ_CHECK(again.name == spec.name && again.direction == spec.direction && again.probability == spec.probability);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int form = data[0] % 6;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  g_input = text;

  json doc;
  const bool json_form = form >= 2 || (!text.empty() && text.front() == '{');
  if (json_form) {
    doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
      if (form >= 2) return 0;  // refused before any spec parser sees it
    }
  }
  const json* place_doc = json_form && !doc.is_discarded() ? &doc : nullptr;

  try {
    switch (form) {
      case 0:
        check_spec(faultline::parse_fault_text(text));
        break;
      case 1:
        check_frame_spec(faultline::parse_frame_fault_text(text));
        break;
      case 2:
        check_spec(faultline::parse_fault(doc, ""));
        break;
      case 3:
        check_frame_spec(faultline::parse_frame_fault(doc, ""));
        break;
      case 4: {
        const auto specs = faultline::parse_frame_faults(doc, "");
        FUZZ_CHECK(doc.is_array() && specs.size() == doc.size());
        for (const auto& spec : specs) check_frame_spec(spec);
        break;
      }
      case 5: {
        if (!doc.is_array() || doc.size() != 2) return 0;
        const FaultSpec current = faultline::parse_fault(doc[0], "/0");
        check_spec(current);
        FaultSpec next;
        try {
          next = faultline::update_fault_spec(current, doc[1], "");
        } catch (const ConfigError& e) {
          // The place is in the update or in the spec it applies to.
          const json merged = current.to_json();
          bool unescaped = false;
          if (!faultline::fuzz::names_place(doc[1], e.where(), unescaped) &&
              !faultline::fuzz::names_place(merged, e.where(), unescaped)) {
            std::fprintf(stderr, "update error at \"%s\" names no place: %s\n", e.where().c_str(), e.what());
            FUZZ_CHECK(false);
          }
          return 0;
        }
        FUZZ_CHECK(next.name == current.name && next.type == current.type);
        check_spec(next);
        break;
      }
    }
  } catch (const ConfigError& e) {
    check_error(e, place_doc, form <= 1);
  } catch (const json::type_error& e) {
    // Known: an error message built with value.dump() on a text-form string that is not UTF-8
    // (faults/attribute_reader.cpp, AttributeReader::signal) throws instead of the ConfigError.
    if (e.id != 316) {
      std::fprintf(stderr, "fuzz_fault_spec: a json type_error escaped (not a ConfigError): %s\n", e.what());
      std::abort();
    }
    faultline::fuzz::report_once("a json type_error 316 (a message built with dump() on text that is not UTF-8) escaped instead of a ConfigError", text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_fault_spec: a %s escaped (not a ConfigError): %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
