#include "data/vision/batch_mix.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sigtrain::vision {
namespace {

void set_soft_targets(VisionBatch& b, int num_classes, double lambda) {
  const auto n = static_cast<size_t>(b.count);
  const auto k = static_cast<size_t>(num_classes);
  b.soft_targets.assign(n * k, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const auto own = static_cast<size_t>(b.labels[i]);
    const auto partner = static_cast<size_t>(b.labels[n - 1 - i]);
    b.soft_targets[i * k + own] += static_cast<float>(lambda);
    b.soft_targets[i * k + partner] += static_cast<float>(1.0 - lambda);
  }
}

void mixup(VisionBatch& b, double lambda) {
  const auto per = static_cast<size_t>(b.channels) * static_cast<size_t>(b.height) * static_cast<size_t>(b.width);
  const auto n = static_cast<size_t>(b.count);
  const std::vector<float> original = b.pixels;
  const auto lam = static_cast<float>(lambda);
  for (size_t i = 0; i < n; ++i) {
    const float* own = original.data() + i * per;
    const float* partner = original.data() + (n - 1 - i) * per;
    float* dst = b.pixels.data() + i * per;
    for (size_t j = 0; j < per; ++j) dst[j] = lam * own[j] + (1.0f - lam) * partner[j];
  }
}

void cutmix(VisionBatch& b, const MixInfo& box) {
  const auto H = static_cast<size_t>(b.height);
  const auto W = static_cast<size_t>(b.width);
  const auto per = static_cast<size_t>(b.channels) * H * W;
  const auto n = static_cast<size_t>(b.count);
  const std::vector<float> original = b.pixels;
  for (size_t i = 0; i < n; ++i) {
    const float* partner = original.data() + (n - 1 - i) * per;
    float* dst = b.pixels.data() + i * per;
    for (size_t c = 0; c < static_cast<size_t>(b.channels); ++c)
      for (auto y = static_cast<size_t>(box.box_top); y < static_cast<size_t>(box.box_bottom); ++y)
        for (auto x = static_cast<size_t>(box.box_left); x < static_cast<size_t>(box.box_right); ++x)
          dst[(c * H + y) * W + x] = partner[(c * H + y) * W + x];
  }
}

}  // namespace

void mix_batch(VisionBatch& b, int num_classes, const MixOptions& o, SampleRng& rng) {
  if (!o.enabled()) throw std::invalid_argument("mix_batch: neither mixup nor cutmix is on");
  MixInfo info;
  if (rng.bernoulli(o.prob)) {
    bool use_cutmix = o.cutmix_alpha > 0;
    if (o.mixup_alpha > 0 && o.cutmix_alpha > 0) use_cutmix = rng.bernoulli(o.switch_prob);
    const double lambda = rng.beta(use_cutmix ? o.cutmix_alpha : o.mixup_alpha, use_cutmix ? o.cutmix_alpha : o.mixup_alpha);
    if (use_cutmix) {
      const double cut = std::sqrt(1.0 - lambda);
      const int cut_h = static_cast<int>(b.height * cut);
      const int cut_w = static_cast<int>(b.width * cut);
      const int cy = static_cast<int>(rng.below(static_cast<uint64_t>(b.height)));
      const int cx = static_cast<int>(rng.below(static_cast<uint64_t>(b.width)));
      info.kind = MixKind::kCutmix;
      info.box_top = std::clamp(cy - cut_h / 2, 0, b.height);
      info.box_bottom = std::clamp(cy + cut_h / 2, 0, b.height);
      info.box_left = std::clamp(cx - cut_w / 2, 0, b.width);
      info.box_right = std::clamp(cx + cut_w / 2, 0, b.width);
      const double area = static_cast<double>(info.box_bottom - info.box_top) * (info.box_right - info.box_left);
      info.lambda = 1.0 - area / (static_cast<double>(b.height) * b.width);
      cutmix(b, info);
    } else {
      info.kind = MixKind::kMixup;
      info.lambda = lambda;
      mixup(b, lambda);
    }
  }
  b.mix = info;
  set_soft_targets(b, num_classes, info.lambda);
}

}  // namespace sigtrain::vision
