#pragma once
// Sample-rate conversion through libsamplerate (Secret Rabbit Code). The sinc converters are band-limited, so
// 8 kHz telephone prompts come up to 16 kHz without images above 4 kHz, and 22.05 kHz TTS comes down without
// aliasing. Quality trades speed (libsamplerate's own figures): `best` 145 dB SNR / 97 % bandwidth, `medium` 121 dB /
// 90 %, `fastest` 97 dB / 80 %; `linear` and `zero_order_hold` are not band-limited (speed tests only).
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::speech {

enum class ResampleQuality { kBest, kMedium, kFastest, kLinear, kZeroOrderHold };

// "best" | "medium" | "fastest" | "linear" | "zero_order_hold"; throws std::invalid_argument otherwise.
ResampleQuality parse_resample_quality(const std::string& name);
std::vector<std::string> resample_quality_names();

// Returns `samples` at `to_hz` (a copy when the rates are equal). Output length is round(n * to_hz / from_hz).
// Throws std::runtime_error with libsamplerate's message on failure.
std::vector<float> resample(const std::vector<float>& samples, int64_t from_hz, int64_t to_hz,
                            ResampleQuality quality = ResampleQuality::kMedium);

}  // namespace sigtrain::speech
