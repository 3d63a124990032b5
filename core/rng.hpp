#pragma once
// The seeded random source. Every random choice in faultline draws from an Rng
// whose seed is derived from (run seed, link, fault, connection number), so the
// same run seed replays the same decisions.

#include <cstdint>
#include <string_view>

namespace faultline {

// Stable 64-bit hash of text (FNV-1a), used to fold names into seeds.
std::uint64_t stable_hash(std::string_view text, std::uint64_t basis = 0xcbf29ce484222325ULL);

// Seed for one fault on one connection of one link.
std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view link, std::string_view fault,
                          std::uint64_t connection);

// xoshiro256** seeded through splitmix64: small, fast, and identical on every platform.
class Rng {
 public:
  using result_type = std::uint64_t;
  explicit Rng(std::uint64_t seed = 0);

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()();

  double uniform();                                  // [0, 1)
  double uniform(double lo, double hi);              // [lo, hi)
  std::int64_t integer(std::int64_t lo, std::int64_t hi);  // [lo, hi], inclusive
  bool chance(double probability);                   // true with the given probability

 private:
  std::uint64_t s_[4];
};

}  // namespace faultline
