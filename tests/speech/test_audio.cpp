// Audio reading through libsndfile (sample rate and count vs soxi, OGG, mono mix-down, errors naming the file) and
// resampling through libsamplerate (length, a tone's frequency and level preserved).
#include <gtest/gtest.h>

#include <cmath>

#include "data/speech/audio_file.h"
#include "data/speech/resample.h"
#include "data/speech/speech_error.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
using speech_test::error_of;
using speech_test::fixture;

namespace {

double rms(const std::vector<float>& x, size_t begin = 0, size_t end = SIZE_MAX) {
  end = std::min(end, x.size());
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s / static_cast<double>(end - begin));
}

// Frequency from upward zero crossings with linear interpolation, over [begin, end).
double zero_crossing_frequency(const std::vector<float>& x, double rate_hz, size_t begin, size_t end) {
  double first = -1, last = -1;
  int crossings = 0;
  for (size_t i = begin + 1; i < end; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const double t = static_cast<double>(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0) first = t;
      else ++crossings;
      last = t;
    }
  }
  return crossings * rate_hz / (last - first);
}

}  // namespace

TEST(SpeechAudio, FixturesMatchSoxi) {
  struct Expected {
    const char* file;
    int64_t rate_hz, samples;
  };
  // soxi -r / -s (tests/fixtures/speech/README.md).
  for (const Expected& e : {Expected{"asterisk/seven.wav", 8000, 6561}, Expected{"asterisk/auth-thankyou.wav", 8000, 7679},
                            Expected{"asterisk/agent-pass.wav", 8000, 26280}, Expected{"asterisk/seven.ogg", 8000, 6561},
                            Expected{"librispeech/1/1/1-1-0880.flac", 16000, 47840},
                            Expected{"librispeech/1/2/1-2-0930.flac", 16000, 52640}}) {
    SCOPED_TRACE(e.file);
    const sp::AudioInfo info = sp::read_audio_info(fixture(e.file));
    EXPECT_EQ(info.sample_rate_hz, e.rate_hz);
    EXPECT_EQ(info.frames, e.samples);
    EXPECT_EQ(info.channels, 1);
    const sp::MonoAudio audio = sp::read_audio_mono(fixture(e.file));
    EXPECT_EQ(audio.sample_rate_hz, e.rate_hz);
    ASSERT_EQ(static_cast<int64_t>(audio.samples.size()), e.samples);
    EXPECT_GT(rms(audio.samples), 0.01);  // real speech, not silence
    for (float s : audio.samples) ASSERT_LE(std::abs(s), 1.0f);
  }
}

TEST(SpeechAudio, OggDecodesCloseToItsWavSource) {
  const auto wav = sp::read_audio_mono(fixture("asterisk/seven.wav"));
  const auto ogg = sp::read_audio_mono(fixture("asterisk/seven.ogg"));
  ASSERT_EQ(wav.samples.size(), ogg.samples.size());
  // Vorbis is lossy: the level is kept within 10 %, and the difference is well below the signal.
  EXPECT_NEAR(rms(ogg.samples) / rms(wav.samples), 1.0, 0.1);
  std::vector<float> diff(wav.samples.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = wav.samples[i] - ogg.samples[i];
  EXPECT_LT(rms(diff), 0.3 * rms(wav.samples));
}

TEST(SpeechAudio, StereoIsMixedDownByAveraging) {
  const std::string path = (speech_test::temp_dir("stereo") / "stereo.wav").string();
  std::vector<float> interleaved;
  for (int i = 0; i < 1000; ++i) {
    interleaved.push_back(0.5f);
    interleaved.push_back(i % 2 == 0 ? -0.1f : 0.3f);
  }
  speech_test::write_wav(path, interleaved, 22050, 2);
  EXPECT_EQ(sp::read_audio_info(path).channels, 2);
  const auto mono = sp::read_audio_mono(path);
  EXPECT_EQ(mono.sample_rate_hz, 22050);
  ASSERT_EQ(mono.samples.size(), 1000u);
  EXPECT_FLOAT_EQ(mono.samples[0], 0.2f);
  EXPECT_FLOAT_EQ(mono.samples[1], 0.4f);
}

TEST(SpeechAudio, ErrorsNameTheFile) {
  const auto dir = speech_test::temp_dir("audio_errors");
  const std::string missing = (dir / "missing.wav").string();
  EXPECT_EQ(error_of<sp::SpeechDataError>([&] { sp::read_audio_mono(missing); }), missing + ": audio file not found");

  const std::string text = (dir / "not_audio.wav").string();
  speech_test::write_text(text, "this is not a RIFF file, just text\n");
  const std::string msg = error_of<sp::SpeechDataError>([&] { sp::read_audio_info(text); });
  EXPECT_EQ(msg.rfind(text + ": cannot read as audio (unsupported or unreadable)", 0), 0u) << msg;

  const std::string empty = (dir / "empty.wav").string();
  speech_test::write_wav(empty, {}, 16000, 1);
  EXPECT_EQ(error_of<sp::SpeechDataError>([&] { sp::read_audio_mono(empty); }), empty + ": empty audio file (0 samples)");
}

TEST(SpeechResample, EightToSixteenKiloHertzDoublesTheLength) {
  const auto audio = sp::read_audio_mono(fixture("asterisk/seven.wav"));
  for (auto q : {sp::ResampleQuality::kBest, sp::ResampleQuality::kMedium, sp::ResampleQuality::kFastest,
                 sp::ResampleQuality::kLinear}) {
    const auto up = sp::resample(audio.samples, 8000, 16000, q);
    EXPECT_EQ(up.size(), 2 * audio.samples.size());
    EXPECT_NEAR(rms(up) / rms(audio.samples), 1.0, 0.02);  // band-limited speech keeps its level
  }
  EXPECT_EQ(sp::resample(audio.samples, 8000, 22050).size(), 18084u);  // round(6561 * 22050 / 8000) = 18083.6
  EXPECT_EQ(sp::resample(audio.samples, 8000, 8000), audio.samples);
}

TEST(SpeechResample, ToneKeepsItsFrequencyAndLevel) {
  // 1 kHz at 8 kHz, 1 s; after 8k -> 16k the tone is still 1 kHz (not 500 Hz or 2 kHz) with the same amplitude.
  const auto tone = speech_test::sine(1000.0, 8000.0, 8000, 0.5);
  const auto up = sp::resample(tone, 8000, 16000, sp::ResampleQuality::kBest);
  ASSERT_EQ(up.size(), 16000u);
  // Away from the edges (the sinc filter's start-up).
  EXPECT_NEAR(zero_crossing_frequency(up, 16000.0, 1000, 15000), 1000.0, 0.5);
  EXPECT_NEAR(rms(up, 1000, 15000), 0.5 / std::sqrt(2.0), 0.005);
  // Down 16k -> 8k as well.
  const auto down = sp::resample(speech_test::sine(1000.0, 16000.0, 16000, 0.5), 16000, 8000);
  ASSERT_EQ(down.size(), 8000u);
  EXPECT_NEAR(zero_crossing_frequency(down, 8000.0, 500, 7500), 1000.0, 0.5);
}

TEST(SpeechResample, QualityNames) {
  EXPECT_EQ(sp::parse_resample_quality("best"), sp::ResampleQuality::kBest);
  EXPECT_EQ(sp::parse_resample_quality("zero_order_hold"), sp::ResampleQuality::kZeroOrderHold);
  EXPECT_THROW(sp::parse_resample_quality("sinc"), std::invalid_argument);
  EXPECT_EQ(sp::resample_quality_names().size(), 5u);
  EXPECT_THROW(sp::resample({1.0f}, 0, 16000), std::invalid_argument);
}
