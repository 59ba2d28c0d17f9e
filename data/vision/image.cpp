#include "data/vision/image.h"

#include <stdexcept>
#include <string>

namespace sigtrain::vision {

Image to_channels(Image image, int channels) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument("to_channels: channels must be 1 or 3, got " + std::to_string(channels));
  const int in = image.channels;
  if (in < 1 || in > 4) throw std::invalid_argument("to_channels: unsupported input channel count " + std::to_string(in));
  if (in == channels) return image;
  const bool in_color = in >= 3;
  const size_t n = static_cast<size_t>(image.height) * static_cast<size_t>(image.width);
  std::vector<uint8_t> out(n * static_cast<size_t>(channels));
  const uint8_t* p = image.pixels.data();
  for (size_t i = 0; i < n; ++i, p += in) {
    if (channels == 1) {
      out[i] = in_color ? static_cast<uint8_t>((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16) : p[0];
    } else {
      for (int c = 0; c < 3; ++c) out[i * 3 + static_cast<size_t>(c)] = in_color ? p[c] : p[0];
    }
  }
  image.pixels = std::move(out);
  image.channels = channels;
  return image;
}

}  // namespace sigtrain::vision
