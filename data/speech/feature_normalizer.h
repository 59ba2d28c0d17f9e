#pragma once
// Feature normalisation, per mel bin:
//   utterance: subtract the utterance's own mean and divide by its own standard deviation (CMVN per utterance;
//              needs no statistics, robust to channel differences, but removes absolute loudness);
//   global:    the same with the mean / standard deviation over every frame of the training set, computed once
//              (FeatureStats::add over the training utterances, without SpecAugment) and saved with the run as JSON,
//              so evaluation and resumed runs normalise exactly as training did.
// Both divide by sqrt(var + kVarianceFloor), so a constant bin (e.g. all at the log floor) maps to 0, not NaN.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sigtrain::speech {

enum class NormalizationMode { kNone, kUtterance, kGlobal };
NormalizationMode parse_normalization_mode(const std::string& name);  // "none" | "utterance" | "global"

// Added to the variance before the square root, so near-constant bins are not blown up.
inline constexpr double kVarianceFloor = 1e-5;

// Per-bin running sums in float64 (a LibriSpeech epoch is ~3.6e8 frames; float sums would lose digits).
class FeatureStats {
 public:
  explicit FeatureStats(int64_t n_mels = 0);
  // features: [frames, n_mels] row-major.
  void add(const std::vector<float>& features);
  void merge(const FeatureStats& other);

  int64_t n_mels() const { return n_mels_; }
  int64_t frames() const { return frames_; }
  std::vector<double> mean() const;
  std::vector<double> stddev() const;  // sqrt(var + kVarianceFloor)

  nlohmann::json to_json() const;
  // Throws std::runtime_error naming the missing / ill-sized field.
  static FeatureStats from_json(const nlohmann::json& j);
  void save(const std::string& path) const;  // atomic write
  static FeatureStats load(const std::string& path);  // errors name the file

 private:
  int64_t n_mels_ = 0;
  int64_t frames_ = 0;
  std::vector<double> sum_, sum_sq_;
};

// In place, features [frames, n_mels]. kGlobal needs `global` (with matching n_mels); kUtterance ignores it.
void normalize_features(std::vector<float>& features, int64_t n_mels, NormalizationMode mode,
                        const FeatureStats* global = nullptr);

}  // namespace sigtrain::speech
