#pragma once
// JPEG and PNG decoding through the real libraries (libjpeg-turbo, libpng). The format is detected from the file's
// signature, not its name (ImageNet has PNG data in a .JPEG file). A corrupt or truncated file is a VisionError
// naming it, never a process abort: both libraries' error handlers longjmp back to the decoder. A truncated
// JPEG (libjpeg's "premature end of JPEG file" warning) is an error too, as in PIL; other warnings are not.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/vision/image.h"

namespace sigtrain::vision {

// Native channels: JPEG 1 (gray) or 3 (RGB; CMYK/YCCK converted), PNG 1, 2, 3 or 4 (palette expanded, 16-bit
// reduced to its high byte, transparency kept as alpha). `name` is used in error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);
// Reads and decodes `path`, then converts to `channels` (1 or 3; to_channels()).
Image decode_image_file(const std::string& path, int channels);

// The format-specific halves, called by decode_image().
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name);
Image decode_png(const uint8_t* data, size_t size, const std::string& name);

// Decoders refuse images with more pixels than this (a corrupt header must not allocate gigabytes).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

}  // namespace sigtrain::vision
