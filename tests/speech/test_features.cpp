// Log-mel features against a float64 reference written here from the formulas (direct O(n^2) DFT, its own window
// and mel filterbank), the frame-count formula, and thread safety.
//
// Tolerance: |library - reference| <= 2e-3 on every log-mel value of a tone plus noise (all bins well above the
// float FFT's round-off, which is ~1e-7 of the frame's largest bin, so log errors are ~1e-4), and on the bins of a
// pure tone whose energy is at least 1e-4 of the peak bin's; below that a float FFT cannot match float64 in log
// space and the test does not pretend it does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <thread>

#include "data/speech/log_mel.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;

namespace {

constexpr double kPi = std::numbers::pi;

double ref_hz_to_mel(double f, bool slaney) {
  if (!slaney) return 2595.0 * std::log10(1.0 + f / 700.0);
  return f < 1000.0 ? 3.0 * f / 200.0 : 15.0 + 27.0 * std::log(f / 1000.0) / std::log(6.4);
}
double ref_mel_to_hz(double m, bool slaney) {
  if (!slaney) return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0);
  return m < 15.0 ? 200.0 * m / 3.0 : 1000.0 * std::pow(6.4, (m - 15.0) / 27.0);
}

struct RefOptions {
  int rate = 16000, win = 400, hop = 160, n_fft = 512, n_mels = 80;
  double preemphasis = 0.97, f_min = 0, f_max = 8000, floor = 1e-10;
  bool hamming = false, slaney_scale = false, slaney_norm = false;
};

// Filter centres in Hz (the m+1-th of n_mels + 2 mel-spaced points).
std::vector<double> ref_mel_points(const RefOptions& o) {
  std::vector<double> pts;
  const double lo = ref_hz_to_mel(o.f_min, o.slaney_scale), hi = ref_hz_to_mel(o.f_max, o.slaney_scale);
  for (int i = 0; i < o.n_mels + 2; ++i) pts.push_back(ref_mel_to_hz(lo + (hi - lo) * i / (o.n_mels + 1), o.slaney_scale));
  return pts;
}

// Reference log-mel [frames, n_mels] in float64.
std::vector<double> reference_log_mel(const std::vector<float>& x32, const RefOptions& o) {
  std::vector<double> x(x32.begin(), x32.end());
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] - (i > 0 ? o.preemphasis * x[i - 1] : 0.0);
  const int frames = x.size() < static_cast<size_t>(o.win) ? 0 : 1 + (static_cast<int>(x.size()) - o.win) / o.hop;
  const std::vector<double> pts = ref_mel_points(o);
  const int bins = o.n_fft / 2 + 1;
  std::vector<double> out;
  for (int t = 0; t < frames; ++t) {
    std::vector<double> frame(o.n_fft, 0.0);
    for (int i = 0; i < o.win; ++i) {
      const double w = o.hamming ? 0.54 - 0.46 * std::cos(2 * kPi * i / o.win) : 0.5 - 0.5 * std::cos(2 * kPi * i / o.win);
      frame[i] = y[t * o.hop + i] * w;
    }
    std::vector<double> power(bins);
    for (int k = 0; k < bins; ++k) {
      double re = 0, im = 0;
      for (int n = 0; n < o.n_fft; ++n) {
        re += frame[n] * std::cos(2 * kPi * k * n / o.n_fft);
        im -= frame[n] * std::sin(2 * kPi * k * n / o.n_fft);
      }
      power[k] = re * re + im * im;
    }
    for (int m = 0; m < o.n_mels; ++m) {
      double e = 0;
      for (int k = 0; k < bins; ++k) {
        const double f = static_cast<double>(k) * o.rate / o.n_fft;
        const double w = std::max(0.0, std::min((f - pts[m]) / (pts[m + 1] - pts[m]), (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1])));
        e += w * power[k] * (o.slaney_norm ? 2.0 / (pts[m + 2] - pts[m]) : 1.0);
      }
      out.push_back(std::log(std::max(e, o.floor)));
    }
  }
  return out;
}

sp::FeatureOptions library_options(const RefOptions& r) {
  sp::FeatureOptions o;
  o.sample_rate_hz = r.rate;
  o.n_mels = r.n_mels;
  o.win_samples = r.win;
  o.hop_samples = r.hop;
  o.n_fft = r.n_fft;
  o.preemphasis = r.preemphasis;
  o.f_min_hz = r.f_min;
  o.f_max_hz = r.f_max;
  o.window = r.hamming ? sp::WindowKind::kHamming : sp::WindowKind::kHann;
  o.mel_scale = r.slaney_scale ? sp::MelScale::kSlaney : sp::MelScale::kHtk;
  o.mel_norm = r.slaney_norm ? sp::MelNorm::kSlaney : sp::MelNorm::kNone;
  return o;
}

// 1 kHz at amplitude 0.5 plus uniform noise of amplitude `noise` from a fixed LCG.
std::vector<float> tone_with_noise(int64_t n, double noise) {
  std::vector<float> x = speech_test::sine(1000.0, 16000.0, n, 0.5);
  uint64_t s = 12345;
  for (auto& v : x) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v += static_cast<float>(noise * ((static_cast<double>(s >> 11) / 9007199254740992.0) * 2.0 - 1.0));
  }
  return x;
}

void expect_matches_reference(const std::vector<float>& signal, const RefOptions& r, double min_relative_energy) {
  const sp::LogMelExtractor extractor(library_options(r));
  const std::vector<float> got = extractor.compute(signal);
  const std::vector<double> want = reference_log_mel(signal, r);
  ASSERT_EQ(got.size(), want.size());
  const size_t frames = want.size() / r.n_mels;
  size_t checked = 0;
  for (size_t t = 0; t < frames; ++t) {
    const double peak = *std::max_element(want.begin() + t * r.n_mels, want.begin() + (t + 1) * r.n_mels);
    for (int m = 0; m < r.n_mels; ++m) {
      const double w = want[t * r.n_mels + m];
      if (w < peak + std::log(min_relative_energy)) continue;
      ++checked;
      ASSERT_NEAR(got[t * r.n_mels + m], w, 2e-3) << "frame " << t << " mel " << m;
    }
  }
  EXPECT_GT(checked, frames * 5);  // the check is not vacuous
}

}  // namespace

TEST(SpeechFeatures, FrameCountFormula) {
  sp::FeatureOptions o;  // 16 kHz, 25 ms / 10 ms
  const sp::FrameGeometry g = sp::resolve_frames(o);
  EXPECT_EQ(g.win_samples, 400);
  EXPECT_EQ(g.hop_samples, 160);
  EXPECT_EQ(g.n_fft, 512);
  EXPECT_EQ(g.frame_count(399), 0);
  EXPECT_EQ(g.frame_count(400), 1);
  EXPECT_EQ(g.frame_count(559), 1);
  EXPECT_EQ(g.frame_count(560), 2);
  EXPECT_EQ(g.frame_count(16000), 98);  // 1 + (16000 - 400) / 160
  const sp::LogMelExtractor extractor(o);
  EXPECT_EQ(extractor.compute(speech_test::sine(1000, 16000, 16000)).size(), 98u * 80u);
  EXPECT_TRUE(extractor.compute(std::vector<float>(399, 0.1f)).empty());

  o.sample_rate_hz = 8000;
  o.win_ms = 32;
  o.hop_ms = 12.5;
  const sp::FrameGeometry g8 = sp::resolve_frames(o);
  EXPECT_EQ(g8.win_samples, 256);
  EXPECT_EQ(g8.hop_samples, 100);
  EXPECT_EQ(g8.n_fft, 256);
  o.n_fft = 128;
  EXPECT_THROW(sp::resolve_frames(o), std::invalid_argument);
}

TEST(SpeechFeatures, PureToneMatchesFloat64DftAndPeaksAtOneKiloHertz) {
  const RefOptions r;  // HTK, 80 mels, 0-8 kHz, Hann, pre-emphasis 0.97
  const auto tone = speech_test::sine(1000.0, 16000.0, 4000);
  expect_matches_reference(tone, r, 1e-4);

  const sp::LogMelExtractor extractor(library_options(r));
  const auto got = extractor.compute(tone);
  const auto want = reference_log_mel(tone, r);
  const std::vector<double> pts = ref_mel_points(r);
  for (size_t t = 0; t < got.size() / 80; ++t) {
    const auto row = got.begin() + static_cast<std::ptrdiff_t>(t * 80);
    const int64_t peak = std::max_element(row, row + 80) - row;
    EXPECT_EQ(peak, std::max_element(want.begin() + t * 80, want.begin() + (t + 1) * 80) - (want.begin() + t * 80));
    // The peak filter's centre is the one nearest to 1 kHz (centres ~25 Hz apart there).
    EXPECT_LT(std::abs(pts[peak + 1] - 1000.0), 0.5 * (pts[peak + 2] - pts[peak]) ) << "peak mel " << peak;
    EXPECT_GT(row[peak], row[0] + 10.0);  // tone >> DC region (e^10)
  }
}

TEST(SpeechFeatures, ToneWithNoiseMatchesReferenceEverywhere) {
  const auto signal = tone_with_noise(4000, 0.05);
  expect_matches_reference(signal, RefOptions{}, 0.0);  // every value
  RefOptions slaney;
  slaney.slaney_scale = true;
  slaney.slaney_norm = true;
  slaney.hamming = true;
  slaney.preemphasis = 0.0;
  slaney.n_mels = 40;
  slaney.f_min = 20;
  slaney.f_max = 7600;
  expect_matches_reference(signal, slaney, 0.0);
  RefOptions long_fft;
  long_fft.n_fft = 1024;
  long_fft.n_mels = 64;
  expect_matches_reference(signal, long_fft, 0.0);
}

TEST(SpeechFeatures, SilenceHitsTheLogFloor) {
  const sp::LogMelExtractor extractor(sp::FeatureOptions{});
  for (float v : extractor.compute(std::vector<float>(1000, 0.0f))) EXPECT_FLOAT_EQ(v, std::log(1e-10f));
}

TEST(SpeechFeatures, WindowsAndMelScales) {
  const auto hann = sp::window_function(sp::WindowKind::kHann, 400);
  EXPECT_DOUBLE_EQ(hann[0], 0.0);
  EXPECT_DOUBLE_EQ(hann[200], 1.0);  // periodic: the peak is at n / 2
  const auto hamming = sp::window_function(sp::WindowKind::kHamming, 400);
  EXPECT_NEAR(hamming[0], 0.08, 1e-12);
  EXPECT_NEAR(sp::hz_to_mel(1000.0, sp::MelScale::kHtk), 999.98554, 1e-5);  // 2595 log10(1 + 1000/700)
  EXPECT_NEAR(sp::hz_to_mel(1000.0, sp::MelScale::kSlaney), 15.0, 1e-12);  // Slaney: the break point
  EXPECT_NEAR(sp::hz_to_mel(6400.0, sp::MelScale::kSlaney), 42.0, 1e-9);   // 27 mels per factor 6.4
  for (double f : {0.0, 300.0, 999.0, 1000.0, 4000.0, 8000.0})
    for (auto s : {sp::MelScale::kHtk, sp::MelScale::kSlaney}) EXPECT_NEAR(sp::mel_to_hz(sp::hz_to_mel(f, s), s), f, 1e-9);
  sp::MelFilterbankSpec spec;
  spec.f_max_hz = 9000;  // above Nyquist
  EXPECT_THROW(sp::mel_filterbank(spec), std::invalid_argument);
}

TEST(SpeechFeatures, OneExtractorIsSafeOnManyThreads) {
  const sp::LogMelExtractor extractor(sp::FeatureOptions{});
  const auto signal = tone_with_noise(16000, 0.1);
  const auto expected = extractor.compute(signal);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      for (int rep = 0; rep < 5; ++rep) results[i] = extractor.compute(signal);
    });
  // Extractors built and destroyed concurrently exercise the planner mutex.
  std::thread planner([] {
    for (int i = 0; i < 20; ++i) sp::LogMelExtractor e(sp::FeatureOptions{});
  });
  for (auto& t : threads) t.join();
  planner.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}
