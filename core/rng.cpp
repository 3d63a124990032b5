#include "core/rng.hpp"

namespace faultline {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

std::uint64_t stable_hash(std::string_view text, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view link, std::string_view fault,
                          std::uint64_t connection) {
  std::uint64_t x = run_seed;
  std::uint64_t h = splitmix64(x);
  h = stable_hash(link, h);
  h = stable_hash("\x1f", h);
  h = stable_hash(fault, h);
  x = h ^ (connection * 0x9e3779b97f4a7c15ULL);
  return splitmix64(x);
}

Rng::Rng(std::uint64_t seed) {
  for (auto& word : s_) word = splitmix64(seed);
}

Rng::result_type Rng::operator()() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

std::int64_t Rng::integer(std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  if (span == 0) return static_cast<std::int64_t>((*this)());  // full 64-bit range
  // Lemire-style rejection keeps the draw unbiased.
  const std::uint64_t limit = max() - max() % span;
  std::uint64_t draw;
  do draw = (*this)();
  while (draw >= limit);
  return lo + static_cast<std::int64_t>(draw % span);
}

bool Rng::chance(double probability) {
  // Always draw, so that decisions stay aligned whatever the probability.
  const double roll = uniform();
  return roll < probability;
}

}  // namespace faultline
