#pragma once
// Speech recognition with CTC (issue 13): the speech encoder (model.arch: asr, models/asr_encoder.h) over
// data/speech/'s pipeline (docs/speech.md).
//
// Sections: `data` (data/speech/speech_config.h: corpus, features, normalisation, SpecAugment, vocabulary -- characters
// or SentencePiece pieces --, buckets, loader threads) and `ctc` (examples: decoded validation utterances shown per
// evaluation; decode: greedy | beam, with beam_width and beam_prune).
//
// Objective: CTC (blank 0) on the encoder's logits, models::ctc_loss_sum: log_softmax in float32, LibTorch's
// ctc_loss, summed over the utterances. The count is the number of target tokens (characters, or SentencePiece
// pieces) of the utterances CTC can align, so the loop's loss = sum / count is the negative log-likelihood per target
// token of the micro-batch (comparable across batch sizes and with the validation loss, which sums and counts the
// same way over the whole set). An utterance with fewer encoder positions than labels (plus repeats) scores 0 and
// adds no count; describe() reports how many training utterances that is.
//
// Batching: the loop counts sequences of seq_len positions. A "sequence" here is one utterance slot: seq_len is the
// encoder positions of a data.max_duration_s utterance (longer training utterances are dropped), and one
// duration-bucketed batch (speech::DurationBatcher, at most train.micro_batch_size utterances and
// data.max_frames_per_batch padded frames) is one micro-batch, filling micro_batch_size slots. So
//   train.global_batch_tokens = seq_len × micro_batch_size × ranks × accumulation steps,
// a step takes ranks × accumulation bucket batches, and the trainer's tokens_per_s counts slot capacity; the real
// share (speech positions / slot positions over the plan) is `slot_fill` in describe() and speech.json.
// Data parallelism and order are the batcher's (rank r takes stream index p + j·W + r); speech::PrefetchLoader
// prepares batches on worker threads; the checkpoint state is the batcher position (BatcherState) with the
// vocabulary, so a resumed run sees the same batches with the same SpecAugment masks.
//
// Evaluation: every data.val_path utterance, shortest first, without SpecAugment: CTC loss per target token, and
// greedy or prefix-beam-search CTC decoding (ctc.decode; data/speech/ctc_beam.h, on the CPU over the log-probs)
// scored against the reference (the normalised transcript as the vocabulary encodes it) into word and character
// error counts, summed over ranks: wer, cer (corpus-level: errors / reference length; with beam search also
// greedy_wer, greedy_cer), plus the first ctc.examples utterances (reference, hypothesis) in the log and the eval
// record.
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/speech/ctc_beam.h"
#include "data/speech/duration_buckets.h"
#include "data/speech/feature_normalizer.h"
#include "data/speech/prefetch_loader.h"
#include "data/speech/speech_config.h"
#include "data/speech/speech_dataset.h"
#include "trainer/tasks/task.h"
#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

// run.task: speech (claimed by model.arch: asr).
struct SpeechTaskConfig final : TaskConfig {
  speech::SpeechDataConfig data;
  int64_t examples = 3;       // ctc.examples: decoded validation utterances per evaluation (log + eval record)
  bool beam = false;          // ctc.decode: greedy | beam
  speech::CtcBeamOptions beam_options;  // ctc.beam_width, ctc.beam_prune (with_greedy: always)
  int64_t max_positions = 0;  // encoder positions of a data.max_duration_s utterance: the loop's seq_len
  int64_t seq_len() const override { return max_positions; }
  const char* seq_len_key() const override { return "the encoder positions of a data.max_duration_s utterance"; }
};

// Rows of Batch::host_lengths for a speech batch.
enum SpeechHostRow : int64_t { kPositionsRow = 0, kTargetLengthsRow = 1, kScoredTargetsRow = 2, kHostRows = 3 };

// One scored validation batch: hypotheses (greedy or beam search) against references.
struct DecodeScore {
  std::vector<std::pair<std::string, std::string>> pairs;  // (reference, hypothesis), in batch order
  // word errors, reference words, char errors, reference chars, utterances; after a beam search also the greedy
  // hypotheses' word errors and char errors (SpeechTask::kBeamExtraCounts in all)
  std::vector<double> counts;
};

class SpeechTask final : public Task {
 public:
  static constexpr int64_t kExtraCounts = 5;      // DecodeScore::counts, greedy decoding
  static constexpr int64_t kBeamExtraCounts = 7;  // DecodeScore::counts, beam search
  // Validation features are kept in memory when they hold at most this many floats (256 MB), else recomputed.
  static constexpr int64_t kCacheFloats = int64_t{1} << 26;

  // Reads both corpora, builds (or loads) the vocabulary and, for global normalisation, the feature statistics,
  // and plans the training batches (at most micro_batch utterances each).
  SpeechTask(const SpeechTaskConfig& cfg, uint64_t seed, int64_t micro_batch);
  ~SpeechTask() override;

  int64_t vocab_size() const override { return train_->vocab().size(); }
  std::string describe() const override;
  // The speech encoder with model.speech.n_mels and model.vocab_size taken from the data where they are 0.
  // ConfigError naming model.max_seq_len when RoPE or learned positions cannot cover a validation utterance.
  std::shared_ptr<models::Model> build_model(models::ModelConfig model,
                                             const models::AttentionConfig& attention) const override;

  Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                    const torch::Device& device) override;
  void advance(int64_t seqs) override;
  int64_t val_size() const override { return static_cast<int64_t>(val_order_.size()); }
  Batch val_batch(int64_t first, int64_t count, const torch::Device& device) override;

  std::pair<torch::Tensor, torch::Tensor> loss_sum(models::Model& model, const Batch& batch) override;
  EvalSums eval_sums(models::Model& model, const Batch& batch) override;
  int64_t eval_extra_size() const override { return cfg_.beam ? kBeamExtraCounts : kExtraCounts; }
  nlohmann::json eval_record(const torch::Tensor& extra_total, double count_total) override;
  nlohmann::json summary() const override { return last_eval_; }
  // vocab.json (the CTC ids; with SentencePiece also vocab.model), feature_stats.json (global normalisation only),
  // speech.json (corpus and plan).
  void write_run_files(const std::string& run_dir) override;

  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

  // A padded batch as model inputs (features, positions as lengths on `device`), targets (concatenated ids on
  // `device`) and host_lengths [kHostRows, B] (positions, target lengths, scored target tokens: the target length
  // where CTC can align it, else 0).
  static Batch to_batch(const speech::SpeechBatch& batch, const torch::Device& device);
  // Greedy CTC decoding of `logits` [B, T', V] (each utterance's first positions only) against the batch's targets.
  static DecodeScore score_greedy(const torch::Tensor& logits, const Batch& batch, const speech::CtcVocab& vocab);
  // Prefix beam search over log_softmax(logits) on the CPU, utterances spread over `threads` threads; the counts
  // also hold the greedy hypotheses' errors (kBeamExtraCounts).
  static DecodeScore score_beam(const torch::Tensor& logits, const Batch& batch, const speech::CtcVocab& vocab,
                                const speech::CtcBeamOptions& options, int64_t threads);

  const speech::SpeechDataset& train_set() const { return *train_; }
  const speech::SpeechDataset& val_set() const { return *val_; }
  const speech::DurationBatcher& batcher() const { return *batcher_; }

 private:
  nlohmann::json corpus_info() const;

  SpeechTaskConfig cfg_;
  uint64_t seed_;
  int64_t micro_batch_;
  std::optional<speech::FeatureStats> stats_;  // global normalisation only
  std::unique_ptr<speech::SpeechDataset> train_, val_;
  std::unique_ptr<speech::DurationBatcher> batcher_;
  std::unique_ptr<speech::PrefetchLoader> loader_;  // made on the first train_batch (it needs the rank and world)
  int64_t micro_in_step_ = 0;                       // train_batch calls since the last advance
  int64_t unalignable_ = 0;                         // training utterances CTC cannot align (planned frames)
  double slot_fill_ = 0;                            // real positions / (batches × micro_batch × seq_len)
  int64_t train_feature_bytes_ = 0;                 // the training set's log-mel, in bytes (planned frames)
  std::vector<int64_t> val_order_;                  // validation utterances, shortest first
  std::vector<speech::UtteranceFeatures> val_cache_;  // by validation utterance, filled on first use when small
  bool cache_val_ = false;
  std::vector<std::pair<std::string, std::string>> examples_;  // this evaluation's first decoded utterances
  nlohmann::json last_eval_ = nlohmann::json::object();
};

}  // namespace sigtrain::trainer
