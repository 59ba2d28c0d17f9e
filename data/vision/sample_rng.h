#pragma once
// Per-sample random numbers that are identical on every platform and for any number of loader threads.
//
// Each training sample k (and each batch, for mixup / cutmix) gets its own std::mt19937_64, seeded from a
// splitmix64 hash of (run seed, epoch, global sample index, stream). mt19937_64's output is fixed by the C++
// standard; every draw below is our own arithmetic on its raw 64-bit output (never std::uniform_real_distribution
// and friends, whose results the standard leaves to the library; see data/lm_sampler.h). What a sample gets thus
// depends only on its index, not on which thread computes it or in what order. The only library functions used
// are std::log / std::exp / std::sqrt / std::cos / std::pow (glibc's are deterministic; sqrt is exact).
#include <cstdint>
#include <random>

namespace sigtrain::vision {

// Separate streams so that a sample's augmentation and its batch's mixing never share draws.
enum class RngStream : uint64_t { kAugment = 0xA5A5, kMix = 0x5A5A };

uint64_t stream_seed(uint64_t run_seed, int64_t epoch, int64_t index, RngStream stream);

class SampleRng {
 public:
  explicit SampleRng(uint64_t seed) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  // [0, 1) from the top 53 bits: every value is a multiple of 2^-53.
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // Uniform in [0, n) by rejection (as data/lm_sampler.cpp): no modulo bias. n >= 1.
  uint64_t below(uint64_t n);
  // True with probability p; always consumes one draw, so later draws do not depend on p.
  bool bernoulli(double p) { return uniform01() < p; }
  // Standard normal (Box-Muller, cosine branch; two draws).
  double normal();
  // Gamma(shape, 1), shape > 0: Marsaglia-Tsang, boosted by U^(1/shape) for shape < 1.
  double gamma(double shape);
  // Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
  double beta(double a, double b);

 private:
  std::mt19937_64 engine_;
};

}  // namespace sigtrain::vision
