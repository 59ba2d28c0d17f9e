#include "data/speech/audio_file.h"

#include <sndfile.h>

#include <filesystem>
#include <memory>

#include "data/speech/speech_error.h"

namespace sigtrain::speech {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

SndfileHandle open_checked(const std::string& path, SF_INFO& info) {
  if (!std::filesystem::exists(path)) throw_data_error(path, 0, "audio file not found");
  info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr) {
    // libsndfile's message distinguishes "unknown format" from "unreadable".
    throw_data_error(path, 0, std::string("cannot read as audio (unsupported or unreadable): ") + sf_strerror(nullptr));
  }
  SndfileHandle handle(f);
  if (info.frames <= 0) throw_data_error(path, 0, "empty audio file (0 samples)");
  if (info.channels < 1 || info.samplerate <= 0)
    throw_data_error(path, 0, "bad header: " + std::to_string(info.channels) + " channels at " +
                                  std::to_string(info.samplerate) + " Hz");
  return handle;
}

}  // namespace

AudioInfo read_audio_info(const std::string& path) {
  SF_INFO info;
  open_checked(path, info);
  return {info.samplerate, info.frames, info.channels};
}

MonoAudio read_audio_mono(const std::string& path) {
  SF_INFO info;
  SndfileHandle f = open_checked(path, info);
  // Normalised float reads scale integer PCM to [-1, 1) (libsndfile's default for sf_readf_float).
  std::vector<float> interleaved(static_cast<size_t>(info.frames) * static_cast<size_t>(info.channels));
  const sf_count_t got = sf_readf_float(f.get(), interleaved.data(), info.frames);
  if (got != info.frames)
    throw_data_error(path, 0, "short read: " + std::to_string(got) + " of " + std::to_string(info.frames) +
                                  " frames (" + sf_strerror(f.get()) + ")");
  MonoAudio out{info.samplerate, {}};
  if (info.channels == 1) {
    out.samples = std::move(interleaved);
    return out;
  }
  out.samples.resize(static_cast<size_t>(info.frames));
  const size_t channels = static_cast<size_t>(info.channels);
  for (size_t t = 0; t < out.samples.size(); ++t) {
    float sum = 0.0f;
    for (size_t c = 0; c < channels; ++c) sum += interleaved[t * channels + c];
    out.samples[t] = sum / static_cast<float>(channels);
  }
  return out;
}

}  // namespace sigtrain::speech
