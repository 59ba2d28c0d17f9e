#include "data/vision/augment.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace sigtrain::vision {
namespace {

// Python's round(): to nearest, ties to even (the default floating-point rounding mode).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

void check_channels(const Image& image, int channels) {
  if (image.channels != channels)
    throw std::invalid_argument("transform: image has " + std::to_string(image.channels) + " channels, expected " +
                                std::to_string(channels) + " (convert with to_channels first)");
}

CropBox whole(const Image& image) { return {0, 0, image.height, image.width}; }

}  // namespace

CropBox sample_random_resized_crop(int height, int width, const RandomResizedCropOptions& o, SampleRng& rng) {
  const double area = static_cast<double>(height) * width;
  const double log_ratio_min = std::log(o.ratio_min);
  const double log_ratio_max = std::log(o.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(o.scale_min, o.scale_max);
    const double aspect = std::exp(rng.uniform(log_ratio_min, log_ratio_max));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int top = static_cast<int>(rng.below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(rng.below(static_cast<uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  const double in_ratio = static_cast<double>(width) / height;
  int w = width;
  int h = height;
  if (in_ratio < o.ratio_min) {
    h = round_half_even(w / o.ratio_min);
  } else if (in_ratio > o.ratio_max) {
    w = round_half_even(h * o.ratio_max);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void normalize_to_chw(const std::vector<float>& hwc, int height, int width, int channels, const Normalization& norm,
                      bool flip, float* out_chw) {
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  for (int c = 0; c < channels; ++c) {
    const float mean = norm.mean[static_cast<size_t>(c)];
    const float inv_std = 1.0f / norm.std[static_cast<size_t>(c)];
    float* dst = out_chw + plane * static_cast<size_t>(c);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const int sx = flip ? width - 1 - x : x;
        const float v = hwc[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(sx)) *
                                static_cast<size_t>(channels) + static_cast<size_t>(c)];
        dst[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)] =
            (v / 255.0f - mean) * inv_std;
      }
    }
  }
}

void train_transform(const Image& image, const TrainTransformOptions& o, SampleRng& rng, float* out_chw) {
  check_channels(image, o.channels);
  const int S = o.output_size;
  std::vector<float> hwc;
  if (o.random_resized_crop.enabled) {
    const CropBox box = sample_random_resized_crop(image.height, image.width, o.random_resized_crop, rng);
    hwc = resize_bilinear(image, box, S, S, 0, 0, S, S);
  } else if (o.pad_crop_px > 0) {
    const auto span = static_cast<uint64_t>(2 * o.pad_crop_px + 1);
    const int top = static_cast<int>(rng.below(span)) - o.pad_crop_px;
    const int left = static_cast<int>(rng.below(span)) - o.pad_crop_px;
    hwc = resize_bilinear(image, whole(image), S, S, top, left, S, S);
  } else {
    hwc = resize_bilinear(image, whole(image), S, S, 0, 0, S, S);
  }
  const bool flip = o.hflip_prob > 0 && rng.bernoulli(o.hflip_prob);
  normalize_to_chw(hwc, S, S, o.channels, o.norm, flip, out_chw);
}

void eval_transform(const Image& image, const EvalTransformOptions& o, float* out_chw) {
  check_channels(image, o.channels);
  const int S = o.output_size;
  std::vector<float> hwc;
  if ((image.height == S && image.width == S) || !o.center_crop) {
    hwc = resize_bilinear(image, whole(image), S, S, 0, 0, S, S);
  } else {
    const int shorter = round_half_even(S / o.crop_fraction);
    const bool tall = image.height >= image.width;
    const int short_in = tall ? image.width : image.height;
    const int long_in = tall ? image.height : image.width;
    const int longer = static_cast<int>(static_cast<int64_t>(shorter) * long_in / short_in);
    const int rh = tall ? longer : shorter;
    const int rw = tall ? shorter : longer;
    hwc = resize_bilinear(image, whole(image), rh, rw, round_half_even((rh - S) / 2.0), round_half_even((rw - S) / 2.0),
                          S, S);
  }
  normalize_to_chw(hwc, S, S, o.channels, o.norm, false, out_chw);
}

}  // namespace sigtrain::vision
