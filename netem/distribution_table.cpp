#include "netem/distribution_table.hpp"

#include <algorithm>
#include <cmath>

#include "core/rng.hpp"

namespace faultline::netem {

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Inverse of the standard normal CDF by bisection: plenty precise for a 16-bit table.
double normal_quantile(double q) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (normal_cdf(mid) < q ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// Pareto with shape 3 and scale 1, standardized (mean 1.5, sd sqrt(0.75)).
constexpr double kParetoShape = 3.0;
double pareto_quantile(double q) {
  const double x = 1.0 / std::pow(1.0 - q, 1.0 / kParetoShape);
  const double mean = kParetoShape / (kParetoShape - 1);
  const double sd = std::sqrt(kParetoShape / ((kParetoShape - 1) * (kParetoShape - 1) * (kParetoShape - 2)));
  return (x - mean) / sd;
}

std::int16_t to_entry(double z) {
  const double v = std::round(z * kDistScale);
  return static_cast<std::int16_t>(std::clamp(v, -32768.0, 32767.0));
}

}  // namespace

std::vector<std::int16_t> make_distribution_table(Distribution d) {
  std::vector<std::int16_t> table;
  if (d == Distribution::kUniform) return table;
  table.reserve(kDistTableSize);
  if (d == Distribution::kNormal || d == Distribution::kPareto) {
    for (std::size_t i = 0; i < kDistTableSize; ++i) {
      const double q = (static_cast<double>(i) + 0.5) / kDistTableSize;
      table.push_back(to_entry(d == Distribution::kNormal ? normal_quantile(q) : pareto_quantile(q)));
    }
    return table;
  }
  // paretonormal: a quarter normal, three quarters pareto, summed per sample and
  // standardized; its quantiles come from a large seeded sample so the table is fixed.
  constexpr std::size_t kSamples = kDistTableSize * 16;
  Rng rng(0x6661756c746c696eULL);
  std::vector<double> samples;
  samples.reserve(kSamples);
  for (std::size_t i = 0; i < kSamples; ++i) {
    const double n = normal_quantile(std::clamp(rng.uniform(), 1e-12, 1 - 1e-12));
    const double p = pareto_quantile(std::clamp(rng.uniform(), 0.0, 1 - 1e-12));
    samples.push_back(0.25 * n + 0.75 * p);
  }
  double mean = 0, var = 0;
  for (double v : samples) mean += v;
  mean /= kSamples;
  for (double v : samples) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / kSamples);
  std::sort(samples.begin(), samples.end());
  for (std::size_t i = 0; i < kDistTableSize; ++i) {
    const std::size_t at = (2 * i + 1) * kSamples / (2 * kDistTableSize);
    table.push_back(to_entry((samples[at] - mean) / sd));
  }
  return table;
}

}  // namespace faultline::netem
