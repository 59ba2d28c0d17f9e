#pragma once
// One decoded 8-bit image, height x width x channels (HWC, row-major: pixel (y, x) channel c is at
// pixels[(y * width + x) * channels + c]). Channels are 1 (gray) or 3 (RGB) after to_channels().
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sigtrain::vision {

struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  uint8_t at(int y, int x, int c) const {
    return pixels[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) *
                      static_cast<size_t>(channels) + static_cast<size_t>(c)];
  }
};

// Converts between 1, 2 (gray + alpha), 3 (RGB) and 4 (RGBA) channels to `channels` (1 or 3): alpha is dropped
// (not composited, like PIL's convert), gray is replicated to RGB, and RGB becomes gray with PIL's ITU-R 601-2
// luma in fixed point, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, so images match torchvision's PIL path.
Image to_channels(Image image, int channels);

}  // namespace sigtrain::vision
