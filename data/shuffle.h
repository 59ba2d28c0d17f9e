#pragma once
// Deterministic, portable randomness for data order: only std::mt19937_64's raw output (its sequence is fixed by
// the C++ standard) and our own rejection-sampled bounded draw and Fisher-Yates shuffle, because
// std::uniform_int_distribution and std::shuffle differ between standard libraries. The same seed gives the same
// order with any compiler. Used by the LM sampler, the vision loader and the speech batcher.
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace sigtrain::data {

// Uniform in [0, n) (n >= 1) by rejection: the lowest 2^64 mod n raw values are dropped so every residue is equally
// likely.
inline uint64_t bounded_draw(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// Fisher-Yates with bounded_draw.
template <class T>
void deterministic_shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[bounded_draw(rng, i)]);
}

// The order of epoch `epoch` over n items: 0..n-1 shuffled by a generator seeded with
// splitmix64(splitmix64(seed) ^ epoch). n < 2^32.
std::vector<uint32_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace sigtrain::data
