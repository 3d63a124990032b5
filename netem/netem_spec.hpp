#pragma once
// What a network fault asks of a link: every netem parameter (delay, jitter,
// correlation, distribution, loss models, duplicate, corrupt, reorder, rate,
// limit) plus a tbf bandwidth cap, parsed from tc-like words and validated
// before anything touches the kernel.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::netem {

enum class Distribution { kUniform, kNormal, kPareto, kParetoNormal };

// A probability with an optional correlation, both percentages 0..100.
struct Chance {
  double percent = 0;
  double correlation = 0;
};

// Gilbert-Elliott: p = good->bad, r = bad->good, bad_loss/good_loss = loss in each state.
struct GilbertElliott {
  double p = 0, r = 100, bad_loss = 100, good_loss = 0;
};

// The 4-state Markov model (GI): transition probabilities in percent.
struct FourState {
  double p13 = 0, p31 = 100, p32 = 0, p23 = 100, p14 = 0;
};

struct NetemSpec {
  std::int64_t delay_us = 0;
  std::int64_t jitter_us = 0;
  double delay_correlation = 0;
  Distribution distribution = Distribution::kUniform;
  bool distribution_set = false;

  std::optional<Chance> loss;                 // random loss
  std::optional<GilbertElliott> loss_ge;      // loss gemodel
  std::optional<FourState> loss_4state;       // loss state
  std::optional<Chance> duplicate;
  std::optional<Chance> corrupt;
  std::optional<Chance> reorder;
  std::uint32_t gap = 0;

  std::uint64_t rate_bytes_per_s = 0;         // netem's own rate (0 = none)
  std::int32_t packet_overhead = 0;
  std::uint32_t cell_size = 0;
  std::int32_t cell_overhead = 0;

  std::uint32_t limit = 1000;                 // packets netem may hold
  bool limit_set = false;

  // tbf bandwidth cap (0 = none): rate, bucket size and the latency bound that sets its queue.
  std::uint64_t bandwidth_bytes_per_s = 0;
  std::uint32_t burst_bytes = 0;
  std::int64_t bandwidth_latency_us = 50000;

  bool partition = false;                     // every packet dropped

  // True when some netem parameter is set (otherwise only tbf is needed).
  bool needs_netem() const;
  bool needs_tbf() const { return bandwidth_bytes_per_s > 0; }
  bool empty() const { return !needs_netem() && !needs_tbf(); }

  nlohmann::json to_json() const;
  std::string describe() const;  // tc-like words, round-trips through parse_netem_spec
};

// Parses tc-like words, e.g. {"delay","100ms","10ms","25%","loss","10%"}.
// Throws ConfigError naming the word and the allowed range.
NetemSpec parse_netem_spec(const std::vector<std::string>& words);

// Unit parsers (exposed for the CLI and tests); `what` names the value in errors.
std::int64_t parse_time_us(const std::string& text, const std::string& what);
double parse_percent(const std::string& text, const std::string& what);
std::uint64_t parse_rate_bytes(const std::string& text, const std::string& what);
std::uint64_t parse_size_bytes(const std::string& text, const std::string& what);

const char* distribution_name(Distribution d);

// Splits text on spaces (the inverse of NetemSpec::describe).
std::vector<std::string> split_words(const std::string& text);

}  // namespace faultline::netem
