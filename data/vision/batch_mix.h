#pragma once
// Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) at batch level, as timm's Mixup: one lambda per batch,
// each sample i mixed with its partner p = B - 1 - i (the batch reversed).
//   With probability `prob` the batch is mixed (else soft targets are one-hot); when both alphas are > 0, cutmix
//   is chosen with probability switch_prob, else the one whose alpha is > 0.
//   mixup:  lambda ~ Beta(a, a); x_i <- lambda x_i + (1 - lambda) x_p.
//   cutmix: lambda ~ Beta(a, a); box of cut = floor(H sqrt(1 - lambda)) x floor(W sqrt(1 - lambda)) centred at
//           cy ~ U{0..H-1}, cx ~ U{0..W-1}, clipped to the image (rows [cy - cut/2, cy + cut/2) with / truncating); x_i takes the
//           partner's pixels inside it; lambda <- 1 - box area / (H W).
//   soft targets: lambda onehot(y_i) + (1 - lambda) onehot(y_p), [B, num_classes], rows summing to 1.
// Label smoothing is not applied here (the loss does it). Draw order: prob, switch, lambda, box centre.
#include "data/vision/sample_rng.h"
#include "data/vision/vision_batch.h"

namespace sigtrain::vision {

struct MixOptions {
  double mixup_alpha = 0.0;  // 0 = off
  double cutmix_alpha = 0.0;  // 0 = off
  double prob = 1.0;          // probability that a batch is mixed
  double switch_prob = 0.5;   // cutmix vs mixup when both are on
  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

// Mixes batch.pixels in place, sets batch.mix and fills batch.soft_targets. Requires options.enabled().
void mix_batch(VisionBatch& batch, int num_classes, const MixOptions& options, SampleRng& rng);

}  // namespace sigtrain::vision
