#pragma once
// SplitMix64 (Steele, Lea, Flood 2014): a cheap, well-mixed 64-bit hash of a counter. Every deterministic stream in
// sigtrain derives its seeds from (run seed, epoch / sample index) through it, so results never depend on the
// standard library's distributions.
#include <cstdint>

namespace sigtrain {

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The generator form: advances `state` and returns the next output.
inline uint64_t splitmix64_next(uint64_t& state) {
  const uint64_t out = splitmix64(state);
  state += 0x9E3779B97F4A7C15ULL;
  return out;
}

}  // namespace sigtrain
