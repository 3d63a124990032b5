#pragma once
// `faultline proxy --config FILE`: a JSON array of proxies in the shape of
// Toxiproxy's config file and /populate body, each optionally with "toxics".

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace faultline {

// The largest config (or faults) file read: 16 MiB.
inline constexpr std::uint64_t kMaxJsonFileBytes = 16u << 20;

// Reads and parses the file; throws ConfigError naming the file and the line.
// Only a regular file of at most kMaxJsonFileBytes, nesting at most
// kMaxJsonDepth levels, is read: a directory, a device (/dev/zero), a pipe are
// refused by name.
nlohmann::json read_json_file(const std::string& path);

}  // namespace faultline
