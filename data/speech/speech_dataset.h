#pragma once
// A corpus made ready for training: transcripts encoded once (unknown characters reported up front), and one
// function per step of the per-utterance pipeline
//   read (libsndfile, mono) -> resample to the model rate (libsamplerate) -> log-mel (FFTW) -> normalise
//   -> SpecAugment (training only, from (seed, epoch, utterance index))
// and the collation of a planned batch into padded arrays. make_batch() is the synchronous loader: the prefetching
// loader runs exactly it on worker threads, so both give the same batches bit for bit.
//
// Everything here is const and thread-safe once constructed.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/speech/char_vocab.h"  // the default vocabulary; ctc_vocab.h the interface
#include "data/speech/duration_buckets.h"
#include "data/speech/feature_normalizer.h"
#include "data/speech/feature_cache.h"
#include "data/speech/log_mel.h"
#include "data/speech/resample.h"
#include "data/speech/spec_augment.h"
#include "data/speech/text_normalizer.h"
#include "data/speech/utterance.h"

namespace sigtrain::speech {

struct SpeechPipelineOptions {
  FeatureOptions features;              // features.sample_rate_hz is the model rate audio is resampled to
  ResampleQuality resample_quality = ResampleQuality::kMedium;
  NormalizationMode normalization = NormalizationMode::kUtterance;
  SpecAugmentOptions spec_augment;
  TextNormalizerOptions text;
  UnknownCharPolicy unknown_chars = UnknownCharPolicy::kDrop;
  uint64_t seed = 0;                    // the run seed (SpecAugment)
};

struct UtteranceFeatures {
  int64_t frames = 0;
  std::vector<float> features;   // [frames, n_mels]
};

// A padded batch. Padding (frames past an utterance's length) is 0.
struct SpeechBatch {
  int64_t global_index = -1;      // in the batcher's stream
  int64_t epoch = 0;
  int64_t batch_size = 0;
  int64_t max_frames = 0;         // T_max
  int64_t n_mels = 0;
  std::vector<float> features;    // [batch_size, max_frames, n_mels] row-major
  std::vector<int64_t> frame_lengths;   // [batch_size]
  std::vector<int32_t> targets;         // all target ids, concatenated in batch order
  std::vector<int64_t> target_lengths;  // [batch_size]
  std::vector<std::string> utterance_ids;
  double padding_fraction = 0.0;  // 1 - sum(frame_lengths) / (batch_size * max_frames)
};

class SpeechDataset {
 public:
  // Encodes every transcript (normalised with options.text). With UnknownCharPolicy::kError the first unknown
  // character throws, naming the utterance and its file:line. kGlobal normalisation needs `global_stats`.
  // The vocabulary is shared (a SentencePiece model is not copied), or cloned from `vocab`.
  SpeechDataset(Corpus corpus, std::shared_ptr<const CtcVocab> vocab, SpeechPipelineOptions options,
                std::optional<FeatureStats> global_stats = std::nullopt);
  SpeechDataset(Corpus corpus, const CtcVocab& vocab, SpeechPipelineOptions options,
                std::optional<FeatureStats> global_stats = std::nullopt)
      : SpeechDataset(std::move(corpus), vocab.clone(), std::move(options), std::move(global_stats)) {}

  const Corpus& corpus() const { return corpus_; }
  int64_t size() const { return static_cast<int64_t>(corpus_.size()); }
  const CtcVocab& vocab() const { return *vocab_; }
  const std::shared_ptr<const CtcVocab>& shared_vocab() const { return vocab_; }
  const SpeechPipelineOptions& options() const { return options_; }
  const LogMelExtractor& extractor() const { return *extractor_; }
  const UnknownCharReport& unknown_chars() const { return unknown_; }
  const std::vector<int32_t>& targets(int64_t index) const { return targets_[static_cast<size_t>(index)]; }

  // Frames expected from the corpus duration (round(duration * rate) samples): what batches are planned with.
  std::vector<int64_t> planned_frames() const;
  std::vector<std::string> ids() const;

  // Read + resample + log-mel, no normalisation or augmentation. Errors name the utterance, its source line and
  // the audio file (also for audio shorter than one analysis window).
  std::vector<float> log_mel(int64_t index) const;
  // log_mel (from the feature cache when enabled and filled) + normalisation + (when `augment`) SpecAugment for
  // `epoch`.
  UtteranceFeatures featurize(int64_t index, uint64_t epoch, bool augment) const;

  // Keeps up to `budget_bytes` of log-mel features in memory after their first computation (feature_cache.h; the
  // same values as without). Call before the dataset is shared with loader threads; 0 turns it off.
  void enable_feature_cache(int64_t budget_bytes);
  const FeatureCache* feature_cache() const { return cache_.get(); }

 private:
  Corpus corpus_;
  std::shared_ptr<const CtcVocab> vocab_;
  SpeechPipelineOptions options_;
  std::optional<FeatureStats> global_stats_;
  std::unique_ptr<LogMelExtractor> extractor_;
  std::unique_ptr<FeatureCache> cache_;
  std::vector<std::vector<int32_t>> targets_;
  UnknownCharReport unknown_;
};

// Global normalisation statistics over `max_utterances` utterances evenly spaced over the dataset (all when <= 0),
// from un-normalised, un-augmented features.
FeatureStats compute_feature_stats(const SpeechDataset& dataset, int64_t max_utterances = 0);

// Pads per-utterance features into one batch (ids and targets taken from the dataset).
SpeechBatch collate(const SpeechDataset& dataset, const std::vector<int64_t>& utterances,
                    const std::vector<UtteranceFeatures>& features);

// The synchronous loader: batch `global_index` of the batcher's stream, featurised (epoch = batcher.epoch_of).
SpeechBatch make_batch(const SpeechDataset& dataset, const DurationBatcher& batcher, int64_t global_index, bool augment);

}  // namespace sigtrain::speech
