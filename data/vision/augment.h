#pragma once
// Per-image transforms to a fixed-size, normalised float CHW tensor (values ((v / 255) - mean[c]) / std[c]).
//
// Train (random; every draw from the sample's own SampleRng, in this order):
//   1. random resized crop (torchvision's RandomResizedCrop.get_params: up to 10 attempts of
//      area fraction ~ U[scale), log aspect ratio ~ U[log ratio), w = round(sqrt(area * r)), h = round(sqrt(area / r))
//      (round half to even, as Python), kept if it fits, top ~ U{0..H-h}, left ~ U{0..W-w}; else the centre crop
//      clamped to the ratio range), bilinearly resized to output_size x output_size;
//      or, when it is off, a plain resize to output_size x output_size (a copy when the size already matches),
//      followed, when pad_crop_px = P > 0, by a random output_size crop of the image zero-padded by P on every side
//      (top, left offsets ~ U{0..2P}: the CIFAR / MNIST-style augmentation);
//   2. horizontal flip with probability hflip_prob;
//   3. normalisation.
// Eval (deterministic): an image already output_size x output_size is only normalised; otherwise with center_crop
// its shorter side is resized to round(output_size / crop_fraction) (the longer side scaled by truncation, as
// torchvision's Resize(int)) and the centre output_size square taken (offsets round((size - out) / 2), half to
// even); without center_crop it is resized to output_size x output_size. Then normalisation.
// Images must already have `channels` channels (to_channels()).
#include <vector>

#include "data/vision/image.h"
#include "data/vision/resample.h"
#include "data/vision/sample_rng.h"

namespace sigtrain::vision {

struct RandomResizedCropOptions {
  bool enabled = false;
  double scale_min = 0.08;  // fraction of the image area
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;  // width / height
  double ratio_max = 4.0 / 3.0;
};

struct Normalization {
  std::vector<float> mean;  // per channel, of values in [0, 1]
  std::vector<float> std;
};

struct TrainTransformOptions {
  int output_size = 28;
  int channels = 1;
  RandomResizedCropOptions random_resized_crop;
  int pad_crop_px = 0;  // only when random_resized_crop is off
  double hflip_prob = 0.0;
  Normalization norm;
};

struct EvalTransformOptions {
  int output_size = 28;
  int channels = 1;
  bool center_crop = true;
  double crop_fraction = 0.875;  // (0, 1]: output_size / resized shorter side
  Normalization norm;
};

// torchvision's RandomResizedCrop.get_params for a height x width image.
CropBox sample_random_resized_crop(int height, int width, const RandomResizedCropOptions& options, SampleRng& rng);

// Writes channels x output_size x output_size floats to out_chw.
void train_transform(const Image& image, const TrainTransformOptions& options, SampleRng& rng, float* out_chw);
void eval_transform(const Image& image, const EvalTransformOptions& options, float* out_chw);

// HWC float [0, 255] -> normalised CHW, mirrored left-right when `flip`.
void normalize_to_chw(const std::vector<float>& hwc, int height, int width, int channels, const Normalization& norm,
                      bool flip, float* out_chw);

}  // namespace sigtrain::vision
