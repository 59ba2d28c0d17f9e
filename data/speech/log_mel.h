#pragma once
// Log-mel filterbank features, the input of most ASR encoders:
//
//   1. pre-emphasis over the whole signal (optional): y[n] = x[n] - a x[n-1], y[0] = x[0] (as ESPnet / torchaudio's
//      preemphasis; Kaldi applies it per frame, which differs only in each frame's first sample);
//   2. framing without padding (Kaldi's snip_edges = true): frame t covers samples [t hop, t hop + win), and
//          frames = 0 if n < win, else 1 + (n - win) / hop          (integer division)
//      so a 1 s clip at 16 kHz with 25 ms / 10 ms windows (400 / 160 samples) has 1 + 15600 / 160 = 98 frames;
//   3. a periodic Hann or Hamming window of win samples (torch.hann_window's default), zero-padded to n_fft
//      (default: the next power of two >= win, 512 for 400);
//   4. power spectrum |X_k|^2, k = 0 .. n_fft/2, through an FFTW real-to-complex plan;
//   5. a mel filterbank (mel_filterbank.h: HTK or Slaney scale, f_min .. f_max, default HTK, 0 Hz .. Nyquist);
//   6. natural log with a floor: log(max(mel energy, log_floor)), log_floor default 1e-10 (silence -> -23.03).
//
// Output: float [frames, n_mels], row-major.
//
// Threads: the FFTW plan is made once, in the constructor, under a process-wide mutex (FFTW's planner is not
// thread-safe), with FFTW_ESTIMATE so the chosen algorithm - and hence every bit of the output - does not depend on
// timing. compute() executes it on per-call arrays (fftwf_execute_dft_r2c, which FFTW documents as thread-safe), so
// one extractor serves all loader threads.
#include <cstdint>
#include <string>
#include <vector>

#include "data/speech/mel_filterbank.h"

namespace sigtrain::speech {

enum class WindowKind { kHann, kHamming };

struct FeatureOptions {
  int64_t sample_rate_hz = 16000;
  int64_t n_mels = 80;
  double win_ms = 25.0;
  double hop_ms = 10.0;
  int64_t win_samples = 0;   // > 0 overrides win_ms
  int64_t hop_samples = 0;   // > 0 overrides hop_ms
  int64_t n_fft = 0;         // 0: next power of two >= window length
  WindowKind window = WindowKind::kHann;
  double preemphasis = 0.97; // 0 = off
  MelScale mel_scale = MelScale::kHtk;
  MelNorm mel_norm = MelNorm::kNone;
  double f_min_hz = 0.0;
  double f_max_hz = 0.0;     // <= 0: Nyquist
  double log_floor = 1e-10;
};

// Frame geometry resolved from FeatureOptions (ms converted to samples by rounding).
struct FrameGeometry {
  int64_t win_samples = 0;
  int64_t hop_samples = 0;
  int64_t n_fft = 0;
  // 0 if n_samples < win, else 1 + (n_samples - win) / hop.
  int64_t frame_count(int64_t n_samples) const;
};
// Throws std::invalid_argument for a window or hop < 1 sample, or n_fft < window.
FrameGeometry resolve_frames(const FeatureOptions& options);

// The window function of length n (periodic form: denominators n, not n - 1).
std::vector<double> window_function(WindowKind kind, int64_t n);

class LogMelExtractor {
 public:
  explicit LogMelExtractor(const FeatureOptions& options);
  ~LogMelExtractor();
  LogMelExtractor(const LogMelExtractor&) = delete;
  LogMelExtractor& operator=(const LogMelExtractor&) = delete;

  const FeatureOptions& options() const { return options_; }
  const FrameGeometry& geometry() const { return geometry_; }
  int64_t n_mels() const { return options_.n_mels; }

  // [frame_count(n), n_mels] row-major; empty when the signal is shorter than one window. Thread-safe.
  std::vector<float> compute(const std::vector<float>& samples) const;

 private:
  struct MelRow {
    int64_t first_bin = 0;
    std::vector<float> weights;  // bins first_bin .. first_bin + weights.size() - 1 (the filter's support)
  };
  FeatureOptions options_;
  FrameGeometry geometry_;
  std::vector<float> window_;
  std::vector<MelRow> mel_rows_;
  void* plan_ = nullptr;  // fftwf_plan (kept opaque so users need no FFTW headers)
};

}  // namespace sigtrain::speech
