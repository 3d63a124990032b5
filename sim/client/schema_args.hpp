#pragma once
// Arguments for a tools/call, made up from the tool's inputSchema (JSON
// Schema): every required property gets a value of its type (string, number,
// integer, boolean, array, object, enum or const), within minimum/maximum,
// minLength/maxLength and minItems/maxItems; optional properties are left
// out. Seeded: the same Rng state gives the same arguments.

#include <nlohmann/json.hpp>

#include "core/rng.hpp"

namespace faultline::sim {

// The arguments object for a tool whose inputSchema is `schema` (an empty
// object for a schema with no required properties or no schema at all).
nlohmann::json generate_arguments(const nlohmann::json& schema, Rng& rng);

// One value for `schema` (used for each property, and for array items).
nlohmann::json generate_value(const nlohmann::json& schema, Rng& rng, int depth = 0);

}  // namespace faultline::sim
