// PNG through libpng's classic API with transforms that give 8-bit gray, gray+alpha, RGB or RGBA.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <png.h>

#include "data/vision/image_decode.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

struct MemoryInput {
  const uint8_t* data;
  size_t size;
  size_t offset;
  char message[256];
};

void on_error(png_structp png, png_const_charp msg) {
  auto* in = static_cast<MemoryInput*>(png_get_error_ptr(png));
  std::snprintf(in->message, sizeof(in->message), "%s", msg);
  png_longjmp(png, 1);
}

// Warnings (a known-incorrect sRGB profile, a bad ancillary chunk CRC) do not make an image unusable.
void on_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep out, png_size_t length) {
  auto* in = static_cast<MemoryInput*>(png_get_io_ptr(png));
  if (in->size - in->offset < length) png_error(png, "truncated file");
  std::memcpy(out, in->data + in->offset, length);
  in->offset += length;
}

// C-style on purpose: libpng longjmps back to the setjmp below on errors, so every object with a destructor (the
// Image, the row pointers) lives in the caller. Returns false with in->message set on error.
bool decode_png_raw(MemoryInput* in, Image* out, std::vector<png_bytep>* rows) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, in, on_error, on_warning);
  if (png == nullptr) {
    std::snprintf(in->message, sizeof(in->message), "png_create_read_struct failed");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (info == nullptr) png_error(png, "png_create_info_struct failed");
  png_set_read_fn(png, in, read_bytes);
  png_read_info(png, info);
  if (static_cast<int64_t>(png_get_image_width(png, info)) * png_get_image_height(png, info) > kMaxImagePixels)
    png_error(png, "image is larger than the decoder's limit");
  png_set_strip_16(png);  // the high byte, as PIL does for 16-bit PNGs
  png_set_packing(png);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = static_cast<int>(png_get_image_width(png, info));
  out->height = static_cast<int>(png_get_image_height(png, info));
  out->channels = png_get_channels(png, info);
  const size_t stride = png_get_rowbytes(png, info);
  if (stride != static_cast<size_t>(out->width) * static_cast<size_t>(out->channels))
    png_error(png, "unexpected row size after 8-bit transforms");
  out->pixels.resize(stride * static_cast<size_t>(out->height));
  rows->resize(static_cast<size_t>(out->height));
  for (size_t y = 0; y < rows->size(); ++y) (*rows)[y] = out->pixels.data() + y * stride;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& name) {
  MemoryInput in{data, size, 0, {}};
  Image img;
  std::vector<png_bytep> rows;
  if (!decode_png_raw(&in, &img, &rows)) throw_vision_error(name, std::string("cannot decode PNG: ") + in.message);
  return img;
}

}  // namespace sigtrain::vision
