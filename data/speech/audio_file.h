#pragma once
// Audio files through libsndfile: WAV (PCM / float), FLAC, Ogg Vorbis and anything else the installed libsndfile
// reads. Samples come back as float in [-1, 1]; multichannel files are mixed down to mono by averaging the channels
// (what torchaudio's and Kaldi's mono pipelines do), so a stereo recording keeps its loudness.
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::speech {

struct AudioInfo {
  int64_t sample_rate_hz = 0;
  int64_t frames = 0;    // samples per channel
  int channels = 0;
  double duration_s() const { return sample_rate_hz > 0 ? static_cast<double>(frames) / sample_rate_hz : 0.0; }
};

struct MonoAudio {
  int64_t sample_rate_hz = 0;
  std::vector<float> samples;
};

// The header only (cheap: no samples decoded). Throws SpeechDataError naming the file when it is missing, not an
// audio file libsndfile knows, or empty.
AudioInfo read_audio_info(const std::string& path);

// All samples, mixed down to mono. Same errors as read_audio_info, plus short reads.
MonoAudio read_audio_mono(const std::string& path);

}  // namespace sigtrain::speech
