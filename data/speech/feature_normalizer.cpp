#include "data/speech/feature_normalizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/atomic_file.h"
#include "data/speech/speech_error.h"

namespace sigtrain::speech {

NormalizationMode parse_normalization_mode(const std::string& name) {
  if (name == "none") return NormalizationMode::kNone;
  if (name == "utterance") return NormalizationMode::kUtterance;
  if (name == "global") return NormalizationMode::kGlobal;
  throw std::invalid_argument("unknown normalisation '" + name + "' (expected none, utterance or global)");
}

FeatureStats::FeatureStats(int64_t n_mels)
    : n_mels_(n_mels), sum_(static_cast<size_t>(n_mels), 0.0), sum_sq_(static_cast<size_t>(n_mels), 0.0) {}

void FeatureStats::add(const std::vector<float>& features) {
  if (n_mels_ < 1 || features.size() % static_cast<size_t>(n_mels_) != 0)
    throw std::invalid_argument("FeatureStats::add: features are not [frames, " + std::to_string(n_mels_) + "]");
  const size_t frames = features.size() / static_cast<size_t>(n_mels_);
  for (size_t t = 0; t < frames; ++t)
    for (size_t m = 0; m < static_cast<size_t>(n_mels_); ++m) {
      const double x = features[t * static_cast<size_t>(n_mels_) + m];
      sum_[m] += x;
      sum_sq_[m] += x * x;
    }
  frames_ += static_cast<int64_t>(frames);
}

void FeatureStats::merge(const FeatureStats& other) {
  if (other.n_mels_ != n_mels_) throw std::invalid_argument("FeatureStats::merge: different n_mels");
  for (size_t m = 0; m < sum_.size(); ++m) {
    sum_[m] += other.sum_[m];
    sum_sq_[m] += other.sum_sq_[m];
  }
  frames_ += other.frames_;
}

std::vector<double> FeatureStats::mean() const {
  std::vector<double> mu(sum_.size(), 0.0);
  if (frames_ > 0)
    for (size_t m = 0; m < mu.size(); ++m) mu[m] = sum_[m] / static_cast<double>(frames_);
  return mu;
}

std::vector<double> FeatureStats::stddev() const {
  const std::vector<double> mu = mean();
  std::vector<double> sd(sum_.size(), std::sqrt(kVarianceFloor));
  if (frames_ > 0)
    for (size_t m = 0; m < sd.size(); ++m) {
      const double var = std::max(0.0, sum_sq_[m] / static_cast<double>(frames_) - mu[m] * mu[m]);
      sd[m] = std::sqrt(var + kVarianceFloor);
    }
  return sd;
}

nlohmann::json FeatureStats::to_json() const {
  // The raw sums, not mean/std: merging and re-deriving stay exact, and the file is self-describing enough.
  return {{"kind", "log_mel_stats"}, {"n_mels", n_mels_}, {"frames", frames_}, {"sum", sum_}, {"sum_sq", sum_sq_},
          {"mean", mean()}, {"stddev", stddev()}};
}

FeatureStats FeatureStats::from_json(const nlohmann::json& j) {
  auto need = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key))
      throw std::runtime_error(std::string("feature stats: missing field '") + key + "'");
    return j.at(key);
  };
  FeatureStats s(need("n_mels").get<int64_t>());
  s.frames_ = need("frames").get<int64_t>();
  s.sum_ = need("sum").get<std::vector<double>>();
  s.sum_sq_ = need("sum_sq").get<std::vector<double>>();
  if (s.n_mels_ < 1 || s.sum_.size() != static_cast<size_t>(s.n_mels_) || s.sum_sq_.size() != s.sum_.size())
    throw std::runtime_error("feature stats: 'sum' and 'sum_sq' must have n_mels = " + std::to_string(s.n_mels_) +
                             " entries");
  return s;
}

void FeatureStats::save(const std::string& path) const { write_file_atomic(path, to_json().dump(1) + "\n"); }

FeatureStats FeatureStats::load(const std::string& path) {
  try {
    return from_json(nlohmann::json::parse(read_file(path)));
  } catch (const std::exception& e) {
    throw_data_error(path, 0, e.what());
  }
}

void normalize_features(std::vector<float>& features, int64_t n_mels, NormalizationMode mode,
                        const FeatureStats* global) {
  if (mode == NormalizationMode::kNone || features.empty()) return;
  std::vector<double> mu, sd;
  if (mode == NormalizationMode::kGlobal) {
    if (global == nullptr || global->n_mels() != n_mels)
      throw std::invalid_argument("normalize_features: global normalisation needs stats with n_mels = " +
                                  std::to_string(n_mels));
    mu = global->mean();
    sd = global->stddev();
  } else {
    FeatureStats own(n_mels);
    own.add(features);
    mu = own.mean();
    sd = own.stddev();
  }
  const size_t mels = static_cast<size_t>(n_mels);
  for (size_t i = 0; i < features.size(); ++i)
    features[i] = static_cast<float>((features[i] - mu[i % mels]) / sd[i % mels]);
}

}  // namespace sigtrain::speech
