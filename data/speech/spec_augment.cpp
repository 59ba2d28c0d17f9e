#include "data/speech/spec_augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/speech/deterministic_rng.h"

namespace sigtrain::speech {
namespace {

// Width in [0, max_width] and start in [0, size - width]; max_width is already clamped to size.
SpecAugmentMask draw_mask(std::mt19937_64& rng, bool time, int64_t max_width, int64_t size) {
  SpecAugmentMask m;
  m.time = time;
  m.width = static_cast<int64_t>(bounded_draw(rng, static_cast<uint64_t>(max_width) + 1));
  m.start = static_cast<int64_t>(bounded_draw(rng, static_cast<uint64_t>(size - m.width) + 1));
  return m;
}

}  // namespace

std::vector<SpecAugmentMask> spec_augment(std::vector<float>& features, int64_t n_mels, const SpecAugmentOptions& o,
                                          uint64_t seed, uint64_t epoch, uint64_t utterance_index) {
  std::vector<SpecAugmentMask> masks;
  if (!o.enabled || features.empty()) return masks;
  if (n_mels < 1 || features.size() % static_cast<size_t>(n_mels) != 0)
    throw std::invalid_argument("spec_augment: features are not [frames, " + std::to_string(n_mels) + "]");
  const int64_t frames = static_cast<int64_t>(features.size()) / n_mels;
  const int64_t freq_max = std::clamp<int64_t>(o.freq_mask_max_bins, 0, n_mels);
  int64_t time_max = std::clamp<int64_t>(o.time_mask_max_frames, 0, frames);
  if (o.time_mask_max_fraction < 1.0)
    time_max = std::min(time_max, static_cast<int64_t>(std::floor(o.time_mask_max_fraction * static_cast<double>(frames))));

  std::mt19937_64 rng = seeded_rng(seed, kStreamSpecAugment, epoch, utterance_index);
  for (int64_t i = 0; i < o.freq_masks; ++i) masks.push_back(draw_mask(rng, false, freq_max, n_mels));
  for (int64_t i = 0; i < o.time_masks; ++i) masks.push_back(draw_mask(rng, true, time_max, frames));

  for (const auto& m : masks) {
    const int64_t t_begin = m.time ? m.start : 0, t_end = m.time ? m.start + m.width : frames;
    const int64_t f_begin = m.time ? 0 : m.start, f_end = m.time ? n_mels : m.start + m.width;
    for (int64_t t = t_begin; t < t_end; ++t)
      std::fill(features.begin() + t * n_mels + f_begin, features.begin() + t * n_mels + f_end, o.fill_value);
  }
  return masks;
}

}  // namespace sigtrain::speech
