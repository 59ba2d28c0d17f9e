#include "data/speech/mel_filterbank.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sigtrain::speech {
namespace {

// Slaney's scale: linear (200/3 Hz per mel) up to 1 kHz = mel 15, then logarithmic with 27 mels per factor 6.4.
constexpr double kSlaneyHzPerMel = 200.0 / 3.0;
constexpr double kSlaneyBreakHz = 1000.0;
constexpr double kSlaneyBreakMel = kSlaneyBreakHz / kSlaneyHzPerMel;
const double kSlaneyLogStep = std::log(6.4) / 27.0;

}  // namespace

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::kHtk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz < kSlaneyBreakHz) return hz / kSlaneyHzPerMel;
  return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / kSlaneyLogStep;
}

double mel_to_hz(double mel, MelScale scale) {
  if (scale == MelScale::kHtk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel < kSlaneyBreakMel) return mel * kSlaneyHzPerMel;
  return kSlaneyBreakHz * std::exp(kSlaneyLogStep * (mel - kSlaneyBreakMel));
}

std::vector<double> mel_filterbank(const MelFilterbankSpec& s) {
  if (s.sample_rate_hz <= 0 || s.n_fft < 2 || s.n_mels < 1)
    throw std::invalid_argument("mel filterbank: need sample_rate > 0, n_fft >= 2 and n_mels >= 1");
  const double nyquist_hz = 0.5 * static_cast<double>(s.sample_rate_hz);
  const double f_max_hz = s.f_max_hz > 0.0 ? s.f_max_hz : nyquist_hz;
  if (s.f_min_hz < 0.0 || s.f_min_hz >= f_max_hz || f_max_hz > nyquist_hz)
    throw std::invalid_argument("mel filterbank: need 0 <= f_min < f_max <= sample_rate / 2 = " +
                                std::to_string(nyquist_hz) + " Hz, got f_min " + std::to_string(s.f_min_hz) +
                                ", f_max " + std::to_string(f_max_hz));
  const int64_t n_bins = s.n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(s.f_min_hz, s.scale);
  const double mel_hi = hz_to_mel(f_max_hz, s.scale);
  std::vector<double> points_hz(static_cast<size_t>(s.n_mels + 2));
  for (size_t i = 0; i < points_hz.size(); ++i) {
    const double mel = mel_lo + (mel_hi - mel_lo) * static_cast<double>(i) / static_cast<double>(s.n_mels + 1);
    points_hz[i] = mel_to_hz(mel, s.scale);
  }
  std::vector<double> weights(static_cast<size_t>(s.n_mels * n_bins), 0.0);
  for (int64_t m = 0; m < s.n_mels; ++m) {
    const double lo = points_hz[m], centre = points_hz[m + 1], hi = points_hz[m + 2];
    const double scale = s.norm == MelNorm::kSlaney ? 2.0 / (hi - lo) : 1.0;
    for (int64_t k = 0; k < n_bins; ++k) {
      const double f = static_cast<double>(k) * static_cast<double>(s.sample_rate_hz) / static_cast<double>(s.n_fft);
      const double rising = (f - lo) / (centre - lo);
      const double falling = (hi - f) / (hi - centre);
      weights[static_cast<size_t>(m * n_bins + k)] = scale * std::max(0.0, std::min(rising, falling));
    }
  }
  return weights;
}

}  // namespace sigtrain::speech
