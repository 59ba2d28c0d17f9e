#include "data/speech/log_mel.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>

namespace sigtrain::speech {
namespace {

// FFTW's planner (plan creation and destruction) is not thread-safe; execution of an existing plan is.
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};
template <class T>
std::unique_ptr<T[], FftwFree> fftw_array(int64_t n) {
  auto* p = static_cast<T*>(fftwf_malloc(sizeof(T) * static_cast<size_t>(n)));
  if (p == nullptr) throw std::bad_alloc();
  return std::unique_ptr<T[], FftwFree>(p);
}

int64_t next_power_of_two(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

int64_t ms_to_samples(double ms, int64_t sample_rate_hz) {
  return static_cast<int64_t>(std::llround(ms * 1e-3 * static_cast<double>(sample_rate_hz)));
}

}  // namespace

int64_t FrameGeometry::frame_count(int64_t n_samples) const {
  return n_samples < win_samples ? 0 : 1 + (n_samples - win_samples) / hop_samples;
}

FrameGeometry resolve_frames(const FeatureOptions& o) {
  FrameGeometry g;
  g.win_samples = o.win_samples > 0 ? o.win_samples : ms_to_samples(o.win_ms, o.sample_rate_hz);
  g.hop_samples = o.hop_samples > 0 ? o.hop_samples : ms_to_samples(o.hop_ms, o.sample_rate_hz);
  if (g.win_samples < 1 || g.hop_samples < 1)
    throw std::invalid_argument("features: window and hop must be at least one sample, got " +
                                std::to_string(g.win_samples) + " and " + std::to_string(g.hop_samples));
  g.n_fft = o.n_fft > 0 ? o.n_fft : next_power_of_two(g.win_samples);
  if (g.n_fft < g.win_samples)
    throw std::invalid_argument("features: n_fft " + std::to_string(g.n_fft) + " is shorter than the window (" +
                                std::to_string(g.win_samples) + " samples)");
  return g;
}

std::vector<double> window_function(WindowKind kind, int64_t n) {
  // Hann: 0.5 - 0.5 cos(2 pi i / n); Hamming: 0.54 - 0.46 cos(2 pi i / n).
  const double a0 = kind == WindowKind::kHann ? 0.5 : 0.54;
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    w[static_cast<size_t>(i)] = a0 - (1.0 - a0) * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(n));
  return w;
}

LogMelExtractor::LogMelExtractor(const FeatureOptions& options) : options_(options), geometry_(resolve_frames(options)) {
  if (options_.log_floor <= 0.0) throw std::invalid_argument("features: log_floor must be > 0");
  if (options_.preemphasis < 0.0 || options_.preemphasis >= 1.0)
    throw std::invalid_argument("features: preemphasis must be in [0, 1)");
  for (double w : window_function(options_.window, geometry_.win_samples)) window_.push_back(static_cast<float>(w));

  const int64_t n_bins = geometry_.n_fft / 2 + 1;
  const std::vector<double> fbank = mel_filterbank({options_.sample_rate_hz, geometry_.n_fft, options_.n_mels,
                                                    options_.f_min_hz, options_.f_max_hz, options_.mel_scale,
                                                    options_.mel_norm});
  // Keep each filter's non-zero support only: a filter spans a few bins of 257, so this is ~30x less work.
  for (int64_t m = 0; m < options_.n_mels; ++m) {
    const double* row = fbank.data() + m * n_bins;
    int64_t lo = 0, hi = n_bins;
    while (lo < n_bins && row[lo] == 0.0) ++lo;
    while (hi > lo && row[hi - 1] == 0.0) --hi;
    MelRow r{lo, {}};
    for (int64_t k = lo; k < hi; ++k) r.weights.push_back(static_cast<float>(row[k]));
    mel_rows_.push_back(std::move(r));
  }

  auto in = fftw_array<float>(geometry_.n_fft);
  auto out = fftw_array<fftwf_complex>(n_bins);
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  plan_ = fftwf_plan_dft_r2c_1d(static_cast<int>(geometry_.n_fft), in.get(), out.get(), FFTW_ESTIMATE);
  if (plan_ == nullptr) throw std::runtime_error("features: FFTW could not plan an FFT of " + std::to_string(geometry_.n_fft));
}

LogMelExtractor::~LogMelExtractor() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
}

std::vector<float> LogMelExtractor::compute(const std::vector<float>& samples) const {
  const int64_t n = static_cast<int64_t>(samples.size());
  const int64_t frames = geometry_.frame_count(n);
  const int64_t win = geometry_.win_samples, n_fft = geometry_.n_fft, n_bins = n_fft / 2 + 1;
  std::vector<float> out(static_cast<size_t>(frames * options_.n_mels));
  if (frames == 0) return out;

  // fftwf_malloc gives the SIMD alignment the plan was made for, which new-array execution requires.
  auto in = fftw_array<float>(n_fft);
  auto spectrum = fftw_array<fftwf_complex>(n_bins);
  std::vector<float> power(static_cast<size_t>(n_bins));
  const float a = static_cast<float>(options_.preemphasis);
  const float log_floor = static_cast<float>(options_.log_floor);
  for (int64_t t = 0; t < frames; ++t) {
    const int64_t start = t * geometry_.hop_samples;
    for (int64_t i = 0; i < win; ++i) {
      const int64_t s = start + i;
      const float x = samples[static_cast<size_t>(s)] - (s > 0 ? a * samples[static_cast<size_t>(s - 1)] : 0.0f);
      in[i] = x * window_[static_cast<size_t>(i)];
    }
    std::fill(in.get() + win, in.get() + n_fft, 0.0f);
    fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_), in.get(), spectrum.get());
    for (int64_t k = 0; k < n_bins; ++k) power[static_cast<size_t>(k)] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
    float* row = out.data() + t * options_.n_mels;
    for (size_t m = 0; m < mel_rows_.size(); ++m) {
      const MelRow& r = mel_rows_[m];
      float energy = 0.0f;
      for (size_t j = 0; j < r.weights.size(); ++j) energy += r.weights[j] * power[static_cast<size_t>(r.first_bin) + j];
      row[m] = std::log(std::max(energy, log_floor));
    }
  }
  return out;
}

}  // namespace sigtrain::speech
