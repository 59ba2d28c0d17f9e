#pragma once
// The random draws of the speech pipeline (SpecAugment masks, batch shuffles). Only std::mt19937_64's raw output is
// used - its sequence is fixed by the C++ standard - and bounded draws are our own rejection sampling, because
// std::uniform_int_distribution / std::shuffle differ between standard libraries (see data/lm_sampler.h). So a run
// seed gives the same masks and batch order with any compiler.
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "common/splitmix64.h"
#include "data/shuffle.h"

namespace sigtrain::speech {

// A generator for one (run seed, stream, epoch, item) tuple; each argument goes through splitmix64 so nearby
// values give unrelated streams. `stream` separates users (SpecAugment vs batch order) sharing one run seed.
inline std::mt19937_64 seeded_rng(uint64_t seed, uint64_t stream, uint64_t epoch, uint64_t item) {
  const uint64_t s = splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ epoch) ^ item);
  return std::mt19937_64(s);
}

inline constexpr uint64_t kStreamSpecAugment = 0x5350454341554701ULL;
inline constexpr uint64_t kStreamBatchOrder = 0x4241544348455302ULL;

// The bounded draw and the shuffle are the data library's (data/shuffle.h).
using data::bounded_draw;
using data::deterministic_shuffle;

}  // namespace sigtrain::speech
