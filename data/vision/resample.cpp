#include "data/vision/resample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sigtrain::vision {
namespace {

struct Tap {
  int lo = -1;  // -1: outside the resized image (padding)
  int hi = -1;
  float w_hi = 0;
};

// Taps along one axis for output positions window_start .. window_start + out - 1 of a resize from `in` (starting at
// source offset `first`) to `resized` positions.
std::vector<Tap> axis_taps(int first, int in, int resized, int window_start, int out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / resized;
  for (int o = 0; o < out; ++o) {
    const int d = window_start + o;
    if (d < 0 || d >= resized) continue;
    const double s = std::max(0.0, (d + 0.5) * scale - 0.5);
    const int lo = std::min(static_cast<int>(s), in - 1);
    const int hi = std::min(lo + 1, in - 1);
    taps[static_cast<size_t>(o)] = {first + lo, first + hi, static_cast<float>(s - lo)};
  }
  return taps;
}

}  // namespace

std::vector<float> resize_bilinear(const Image& src, CropBox box, int resized_h, int resized_w, int window_top,
                                   int window_left, int out_h, int out_w) {
  if (box.height < 1 || box.width < 1 || box.top < 0 || box.left < 0 || box.top + box.height > src.height ||
      box.left + box.width > src.width)
    throw std::invalid_argument("resize_bilinear: crop box " + std::to_string(box.height) + "x" +
                                std::to_string(box.width) + " at (" + std::to_string(box.top) + ", " +
                                std::to_string(box.left) + ") is outside the " + std::to_string(src.height) + "x" +
                                std::to_string(src.width) + " image");
  if (resized_h < 1 || resized_w < 1 || out_h < 1 || out_w < 1)
    throw std::invalid_argument("resize_bilinear: sizes must be >= 1");
  const auto rows = axis_taps(box.top, box.height, resized_h, window_top, out_h);
  const auto cols = axis_taps(box.left, box.width, resized_w, window_left, out_w);
  const int C = src.channels;
  std::vector<float> out(static_cast<size_t>(out_h) * static_cast<size_t>(out_w) * static_cast<size_t>(C), 0.0f);
  float* dst = out.data();
  for (const Tap& r : rows) {
    for (const Tap& c : cols) {
      if (r.lo >= 0 && c.lo >= 0) {
        for (int ch = 0; ch < C; ++ch) {
          const float top = src.at(r.lo, c.lo, ch) + c.w_hi * (src.at(r.lo, c.hi, ch) - src.at(r.lo, c.lo, ch));
          const float bottom = src.at(r.hi, c.lo, ch) + c.w_hi * (src.at(r.hi, c.hi, ch) - src.at(r.hi, c.lo, ch));
          dst[ch] = top + r.w_hi * (bottom - top);
        }
      }
      dst += C;
    }
  }
  return out;
}

}  // namespace sigtrain::vision
