#include "data/shuffle.h"

#include "common/splitmix64.h"

namespace sigtrain::data {

std::vector<uint32_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<uint32_t> perm(static_cast<size_t>(n));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)));
  deterministic_shuffle(perm, rng);
  return perm;
}

}  // namespace sigtrain::data
