#include "data/vision/sample_rng.h"

#include "data/shuffle.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "common/splitmix64.h"

namespace sigtrain::vision {

uint64_t stream_seed(uint64_t run_seed, int64_t epoch, int64_t index, RngStream stream) {
  uint64_t h = splitmix64(run_seed);
  h = splitmix64(h ^ static_cast<uint64_t>(epoch));
  h = splitmix64(h ^ static_cast<uint64_t>(index));
  return splitmix64(h ^ static_cast<uint64_t>(stream));
}

uint64_t SampleRng::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("SampleRng::below: n must be >= 1");
  return data::bounded_draw(engine_, n);
}

double SampleRng::normal() {
  const double u1 = 1.0 - uniform01();  // (0, 1]: log is finite
  const double u2 = uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double SampleRng::gamma(double shape) {
  if (!(shape > 0)) throw std::invalid_argument("SampleRng::gamma: shape must be > 0");
  if (shape < 1) {
    const double boost = std::pow(1.0 - uniform01(), 1.0 / shape);
    return gamma(shape + 1) * boost;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    const double x = normal();
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = 1.0 - uniform01();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double SampleRng::beta(double a, double b) {
  const double x = gamma(a);
  const double y = gamma(b);
  // Tiny shapes can underflow both to 0; the limit distribution puts mass a/(a+b) on 1.
  if (x + y == 0) return bernoulli(a / (a + b)) ? 1.0 : 0.0;
  return x / (x + y);
}

}  // namespace sigtrain::vision
