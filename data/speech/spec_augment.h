#pragma once
// SpecAugment (Park et al. 2019) without time warping: F frequency masks and T time masks set to a fill value.
// Each mask's width w is uniform in [0, max_width] (as in the paper: f ~ U[0, F]), its start uniform in
// [0, size - w]; masks may overlap. Time masks can be capped at a fraction p of the utterance (the paper's
// "p" for LibriSpeech policies): width <= min(time_mask_max_frames, floor(p * frames)).
//
// Determinism: the masks of utterance u in epoch e are a function of (run seed, e, u) alone, drawn from
// std::mt19937_64 seeded by seeded_rng(seed, kStreamSpecAugment, e, u) with our own bounded draws
// (deterministic_rng.h), so they do not depend on thread count, batch composition or standard library.
// Draw order: all frequency masks (width, then start), then all time masks.
#include <cstdint>
#include <vector>

namespace sigtrain::speech {

struct SpecAugmentOptions {
  bool enabled = false;
  int64_t freq_masks = 2;
  int64_t freq_mask_max_bins = 27;     // F
  int64_t time_masks = 2;
  int64_t time_mask_max_frames = 40;   // T
  double time_mask_max_fraction = 1.0; // p in (0, 1]; 1 = no proportional cap
  float fill_value = 0.0f;             // 0 = the mean after normalisation
};

struct SpecAugmentMask {
  bool time = false;   // false: mel bins [start, start + width); true: frames [start, start + width)
  int64_t start = 0;
  int64_t width = 0;
};

// Masks features [frames, n_mels] in place and returns the masks applied (including zero-width ones), in draw order.
std::vector<SpecAugmentMask> spec_augment(std::vector<float>& features, int64_t n_mels, const SpecAugmentOptions& options,
                                          uint64_t seed, uint64_t epoch, uint64_t utterance_index);

}  // namespace sigtrain::speech
