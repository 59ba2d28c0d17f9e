#pragma once
// Bilinear resampling of 8-bit images to float, the one geometric primitive every transform uses.
#include <vector>

#include "data/vision/image.h"

namespace sigtrain::vision {

// A rectangle of source pixels.
struct CropBox {
  int top = 0;
  int left = 0;
  int height = 0;
  int width = 0;
};

// Resizes the `box` region of `src` to resized_h x resized_w and returns the out_h x out_w window whose top-left
// corner sits at (window_top, window_left) of the resized image, as float HWC with values in [0, 255].
// Window pixels outside the resized image are 0 (zero padding, as torchvision's pad before a random crop).
// Interpolation is PyTorch's bilinear with align_corners=False and no antialiasing: output pixel d samples source
// coordinate s = (d + 0.5) * in / out - 0.5, clamped below at 0; taps floor(s) and floor(s) + 1 (clamped to the
// box), weights by the fractional part. Only pixels inside the box are read. Equal sizes copy exactly.
std::vector<float> resize_bilinear(const Image& src, CropBox box, int resized_h, int resized_w, int window_top,
                                   int window_left, int out_h, int out_w);

}  // namespace sigtrain::vision
