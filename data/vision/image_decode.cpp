#include "data/vision/image_decode.h"

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "data/vision/vision_error.h"

namespace sigtrain::vision {

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  static constexpr uint8_t kJpeg[3] = {0xFF, 0xD8, 0xFF};
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= sizeof(kJpeg) && std::memcmp(data, kJpeg, sizeof(kJpeg)) == 0) return decode_jpeg(data, size, name);
  if (size >= sizeof(kPng) && std::memcmp(data, kPng, sizeof(kPng)) == 0) return decode_png(data, size, name);
  std::string first;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), "%02x", data[i]);
    first += hex;
  }
  throw_vision_error(name, "not a JPEG or PNG image: " + std::to_string(size) + " bytes starting with '" + first +
                               "', expected ffd8ff (JPEG) or 89504e470d0a1a0a (PNG)");
}

Image decode_image_file(const std::string& path, int channels) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw_vision_error(path, std::string("cannot open: ") + std::strerror(errno));
  const auto size = static_cast<size_t>(in.tellg());
  std::vector<uint8_t> bytes(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw_vision_error(path, "read error");
  return to_channels(decode_image(bytes.data(), bytes.size(), path), channels);
}

}  // namespace sigtrain::vision
