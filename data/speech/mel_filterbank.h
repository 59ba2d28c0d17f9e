#pragma once
// Triangular mel filterbanks over the bins of a real FFT, as torchaudio.functional.melscale_fbanks builds them:
// n_mels + 2 points equally spaced on the mel scale between f_min and f_max, converted back to Hz; filter m rises
// linearly from point m to point m+1 and falls to point m+2, evaluated at each bin's centre frequency
// k * sample_rate / n_fft (so a filter narrower than a bin can be all zero; use fewer mels or a longer FFT).
//
// Mel scales:
//   htk:    mel = 2595 log10(1 + f / 700)                       (HTK, Kaldi, torchaudio's default)
//   slaney: mel = 3 f / 200 below 1 kHz, 15 + 27 ln(f / 1000) / ln(6.4) above  (Slaney's Auditory Toolbox, librosa)
// Normalisation: none (peak 1, torchaudio's default) or slaney (each filter scaled by 2 / (its width in Hz), so
// every filter has the same area, librosa's default).
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::speech {

enum class MelScale { kHtk, kSlaney };
enum class MelNorm { kNone, kSlaney };

double hz_to_mel(double hz, MelScale scale);
double mel_to_hz(double mel, MelScale scale);

struct MelFilterbankSpec {
  int64_t sample_rate_hz = 16000;
  int64_t n_fft = 512;       // FFT length; the filters cover its n_fft / 2 + 1 bins
  int64_t n_mels = 80;
  double f_min_hz = 0.0;
  double f_max_hz = 0.0;     // <= 0: sample_rate / 2
  MelScale scale = MelScale::kHtk;
  MelNorm norm = MelNorm::kNone;
};

// Weights [n_mels, n_fft/2 + 1] row-major (float64: building it is not hot, applying it is done in float).
// Throws std::invalid_argument for f_min >= f_max, f_max above Nyquist, or non-positive sizes.
std::vector<double> mel_filterbank(const MelFilterbankSpec& spec);

}  // namespace sigtrain::speech
