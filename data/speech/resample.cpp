#include "data/speech/resample.h"

#include <samplerate.h>

#include <cmath>
#include <stdexcept>

namespace sigtrain::speech {
namespace {

struct QualityName {
  ResampleQuality quality;
  const char* name;
  int converter;
};
constexpr QualityName kQualities[] = {
    {ResampleQuality::kBest, "best", SRC_SINC_BEST_QUALITY},
    {ResampleQuality::kMedium, "medium", SRC_SINC_MEDIUM_QUALITY},
    {ResampleQuality::kFastest, "fastest", SRC_SINC_FASTEST},
    {ResampleQuality::kLinear, "linear", SRC_LINEAR},
    {ResampleQuality::kZeroOrderHold, "zero_order_hold", SRC_ZERO_ORDER_HOLD},
};

}  // namespace

ResampleQuality parse_resample_quality(const std::string& name) {
  for (const auto& q : kQualities)
    if (name == q.name) return q.quality;
  throw std::invalid_argument("unknown resample quality '" + name + "'");
}

std::vector<std::string> resample_quality_names() {
  std::vector<std::string> names;
  for (const auto& q : kQualities) names.emplace_back(q.name);
  return names;
}

std::vector<float> resample(const std::vector<float>& samples, int64_t from_hz, int64_t to_hz,
                            ResampleQuality quality) {
  if (from_hz <= 0 || to_hz <= 0)
    throw std::invalid_argument("resample: sample rates must be positive, got " + std::to_string(from_hz) + " -> " +
                                std::to_string(to_hz));
  if (from_hz == to_hz || samples.empty()) return samples;
  int converter = SRC_SINC_MEDIUM_QUALITY;
  for (const auto& q : kQualities)
    if (q.quality == quality) converter = q.converter;
  const double ratio = static_cast<double>(to_hz) / static_cast<double>(from_hz);
  const auto expected = static_cast<int64_t>(std::llround(static_cast<double>(samples.size()) * ratio));
  // A few extra output slots: src_simple may produce one more frame than the rounded length.
  std::vector<float> out(static_cast<size_t>(expected) + 16);
  SRC_DATA data{};
  data.data_in = samples.data();
  data.input_frames = static_cast<long>(samples.size());
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  if (const int err = src_simple(&data, converter, 1); err != 0)
    throw std::runtime_error(std::string("resample: libsamplerate: ") + src_strerror(err));
  // Pin the length to the rounded ratio so the frame count is a function of the input length alone.
  out.resize(static_cast<size_t>(data.output_frames_gen));
  out.resize(static_cast<size_t>(expected), 0.0f);
  return out;
}

}  // namespace sigtrain::speech
