// JPEG through libjpeg(-turbo)'s classic API with the default (PIL's) settings: islow DCT, fancy upsampling.
#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>
#include <jerror.h>

#include "data/vision/image_decode.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Level -1 is a corrupt-data warning. A truncated file (JWRN_JPEG_EOF) would be completed with gray, so it is an
// error, as PIL refuses truncated images; the others ("extraneous bytes before marker", ...) occur in real data
// sets (ImageNet has a few) that PIL decodes, so they are ignored like PIL does.
void on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

// Adobe CMYK JPEGs store inverted values (the usual case, e.g. in ImageNet); others store plain CMYK.
void cmyk_to_rgb(Image& img, bool inverted) {
  const size_t n = static_cast<size_t>(img.height) * static_cast<size_t>(img.width);
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &img.pixels[i * 4];
    const unsigned k = inverted ? p[3] : 255u - p[3];
    for (size_t c = 0; c < 3; ++c) {
      const unsigned v = inverted ? p[c] : 255u - p[c];
      rgb[i * 3 + c] = static_cast<uint8_t>((v * k + 127u) / 255u);
    }
  }
  img.pixels = std::move(rgb);
  img.channels = 3;
}

// C-style on purpose: libjpeg's errors longjmp back to the setjmp below, so no object with a destructor may be
// created in this function after it (the Image lives in the caller). Returns false with `message` set on error.
bool decode_jpeg_raw(const uint8_t* data, size_t size, Image* out, bool* adobe_cmyk, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  *adobe_cmyk = cmyk && cinfo.saw_Adobe_marker;
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    std::snprintf(message, JMSG_LENGTH_MAX, "image of %u x %u pixels is larger than the decoder's limit",
                  cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  out->height = static_cast<int>(cinfo.output_height);
  out->width = static_cast<int>(cinfo.output_width);
  out->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(out->width) * static_cast<size_t>(out->channels);
  out->pixels.resize(stride * static_cast<size_t>(out->height));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  Image img;
  bool adobe_cmyk = false;
  char message[JMSG_LENGTH_MAX];
  if (!decode_jpeg_raw(data, size, &img, &adobe_cmyk, message))
    throw_vision_error(name, std::string("cannot decode JPEG: ") + message);
  if (img.channels == 4) cmyk_to_rgb(img, adobe_cmyk);
  return img;
}

}  // namespace sigtrain::vision
