#pragma once
// `faultline proxy --config FILE`: a JSON array of proxies in the shape of
// Toxiproxy's config file and /populate body, each optionally with "toxics".

#include <string>

#include <nlohmann/json.hpp>

namespace faultline {

// Reads and parses the file; throws ConfigError naming the file and the line.
nlohmann::json read_json_file(const std::string& path);

}  // namespace faultline
