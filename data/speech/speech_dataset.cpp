#include "data/speech/speech_dataset.h"

#include <algorithm>
#include <cmath>

#include "data/speech/audio_file.h"
#include "data/speech/speech_error.h"

namespace sigtrain::speech {

SpeechDataset::SpeechDataset(Corpus corpus, std::shared_ptr<const CtcVocab> vocab, SpeechPipelineOptions options,
                             std::optional<FeatureStats> global_stats)
    : corpus_(std::move(corpus)),
      vocab_(std::move(vocab)),
      options_(std::move(options)),
      global_stats_(std::move(global_stats)),
      extractor_(std::make_unique<LogMelExtractor>(options_.features)) {
  if (!vocab_) throw std::invalid_argument("SpeechDataset: no vocabulary");
  if (options_.normalization == NormalizationMode::kGlobal &&
      (!global_stats_ || global_stats_->n_mels() != options_.features.n_mels))
    throw std::invalid_argument("SpeechDataset: global normalisation needs feature stats with n_mels = " +
                                std::to_string(options_.features.n_mels) + " (compute_feature_stats or a saved file)");
  targets_.reserve(corpus_.size());
  for (const auto& u : corpus_)
    targets_.push_back(vocab_->encode(normalize_text(u.text, options_.text), options_.unknown_chars, &unknown_,
                                     "utterance '" + u.id + "' (" + u.source + ")"));
}

std::vector<int64_t> SpeechDataset::planned_frames() const {
  std::vector<int64_t> frames;
  const double rate = static_cast<double>(options_.features.sample_rate_hz);
  for (const auto& u : corpus_)
    frames.push_back(extractor_->geometry().frame_count(static_cast<int64_t>(std::llround(u.duration_s * rate))));
  return frames;
}

std::vector<std::string> SpeechDataset::ids() const {
  std::vector<std::string> ids;
  for (const auto& u : corpus_) ids.push_back(u.id);
  return ids;
}

std::vector<float> SpeechDataset::log_mel(int64_t index) const {
  const Utterance& u = corpus_.at(static_cast<size_t>(index));
  try {
    MonoAudio audio = read_audio_mono(u.audio_path);
    const std::vector<float> samples = resample(audio.samples, audio.sample_rate_hz,
                                                options_.features.sample_rate_hz, options_.resample_quality);
    std::vector<float> features = extractor_->compute(samples);
    if (features.empty())
      throw SpeechDataError(u.audio_path + ": " + std::to_string(samples.size()) +
                            " samples, shorter than one analysis window (" +
                            std::to_string(extractor_->geometry().win_samples) + ")");
    return features;
  } catch (const std::exception& e) {
    // Reader errors start with the audio path already; others (resampling) get it added.
    const std::string what = e.what();
    const std::string file = what.find(u.audio_path) == std::string::npos ? " [" + u.audio_path + "]" : "";
    throw SpeechDataError("utterance '" + u.id + "' (" + u.source + "): " + what + file);
  }
}

void SpeechDataset::enable_feature_cache(int64_t budget_bytes) {
  cache_ = budget_bytes > 0 ? std::make_unique<FeatureCache>(size(), budget_bytes) : nullptr;
}

UtteranceFeatures SpeechDataset::featurize(int64_t index, uint64_t epoch, bool augment) const {
  UtteranceFeatures out;
  if (!cache_) {
    out.features = log_mel(index);
  } else if (FeatureCache::Features hit = cache_->find(index)) {
    out.features = *hit;  // a copy: normalisation and SpecAugment work in place
  } else {
    out.features = log_mel(index);
    cache_->offer(index, std::make_shared<const std::vector<float>>(out.features));
  }
  const int64_t n_mels = options_.features.n_mels;
  out.frames = static_cast<int64_t>(out.features.size()) / n_mels;
  normalize_features(out.features, n_mels, options_.normalization, global_stats_ ? &*global_stats_ : nullptr);
  if (augment) spec_augment(out.features, n_mels, options_.spec_augment, options_.seed, epoch, static_cast<uint64_t>(index));
  return out;
}

FeatureStats compute_feature_stats(const SpeechDataset& dataset, int64_t max_utterances) {
  const int64_t n = dataset.size();
  const int64_t take = max_utterances > 0 ? std::min(n, max_utterances) : n;
  FeatureStats stats(dataset.extractor().n_mels());
  for (int64_t i = 0; i < take; ++i) stats.add(dataset.log_mel(i * n / take));
  return stats;
}

SpeechBatch collate(const SpeechDataset& dataset, const std::vector<int64_t>& utterances,
                    const std::vector<UtteranceFeatures>& features) {
  SpeechBatch b;
  b.batch_size = static_cast<int64_t>(utterances.size());
  b.n_mels = dataset.extractor().n_mels();
  for (const auto& f : features) b.max_frames = std::max(b.max_frames, f.frames);
  b.features.assign(static_cast<size_t>(b.batch_size * b.max_frames * b.n_mels), 0.0f);
  int64_t frames = 0;
  for (size_t i = 0; i < utterances.size(); ++i) {
    std::copy(features[i].features.begin(), features[i].features.end(),
              b.features.begin() + static_cast<std::ptrdiff_t>(i) * b.max_frames * b.n_mels);
    b.frame_lengths.push_back(features[i].frames);
    frames += features[i].frames;
    const auto& t = dataset.targets(utterances[i]);
    b.targets.insert(b.targets.end(), t.begin(), t.end());
    b.target_lengths.push_back(static_cast<int64_t>(t.size()));
    b.utterance_ids.push_back(dataset.corpus()[static_cast<size_t>(utterances[i])].id);
  }
  const int64_t padded = b.batch_size * b.max_frames;
  b.padding_fraction = padded == 0 ? 0.0 : 1.0 - static_cast<double>(frames) / static_cast<double>(padded);
  return b;
}

SpeechBatch make_batch(const SpeechDataset& dataset, const DurationBatcher& batcher, int64_t global_index, bool augment) {
  const PlannedBatch& planned = batcher.batch_at(global_index);
  const int64_t epoch = batcher.epoch_of(global_index);
  std::vector<UtteranceFeatures> features;
  for (int64_t u : planned.utterances) features.push_back(dataset.featurize(u, static_cast<uint64_t>(epoch), augment));
  SpeechBatch b = collate(dataset, planned.utterances, features);
  b.global_index = global_index;
  b.epoch = epoch;
  return b;
}

}  // namespace sigtrain::speech
