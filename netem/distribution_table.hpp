#pragma once
// Delay distribution tables for netem. The kernel draws a random entry of the
// table and scales it by the jitter, so each entry is a standardized sample
// (mean 0, standard deviation 1) times NETEM_DIST_SCALE (8192). faultline
// computes its own tables from the inverse CDF instead of reading tc's files.

#include <cstdint>
#include <vector>

#include "netem/netem_spec.hpp"

namespace faultline::netem {

inline constexpr int kDistScale = 8192;
inline constexpr std::size_t kDistTableSize = 4096;

// Empty for uniform (the kernel's default needs no table).
std::vector<std::int16_t> make_distribution_table(Distribution d);

}  // namespace faultline::netem
