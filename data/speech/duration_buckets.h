#pragma once
// Batching by duration buckets, with a deterministic per-epoch order and a restorable, rank-independent position.
//
// Plan (fixed for a run): utterance u has frames[u] feature frames (planned from its duration). Utterances go into
// buckets by frames (bucket i holds (boundaries[i-1], boundaries[i]], the last bucket everything longer); inside a
// bucket they are sorted longest first (ties by index) and cut greedily into batches whose padded size
// batch_size x longest stays <= max_frames_per_batch (and batch_size <= max_utterances_per_batch when > 0). An
// utterance longer than max_frames_per_batch alone forms a batch of one (counted in oversized()). Sorting inside
// buckets keeps padding low; the composition does not change between epochs, so every epoch has the same
// N = batches_per_epoch() batches.
//
//   padding fraction of a batch = 1 - sum(frames) / (batch_size x longest)
//
// Order: the stream is global batch indices k = 0, 1, 2, ...; index k is plan batch perm_e[k mod N] of epoch
// e = k / N, perm_e a Fisher-Yates shuffle from seeded_rng(seed, kStreamBatchOrder, e, 0) (identity when shuffle
// is off). The position (next global index) is what checkpoints store.
//
// Data parallelism (W ranks): a global step takes W consecutive indices [p, p + W); rank r takes index p + r. So
// rank r's j-th batch from position p is p + j W + r (rank_batch_index), and after every rank has taken j batches
// the position is p + j W - the same number on every rank, and meaningful for any other world size on resume.
// With gradient accumulation over A micro-batches, micro-batch m of a step is simply the rank's next batch (index
// p + m W + r), and a step advances the position by A W. Batches differ in size, so a trainer should normalise the
// loss by the global number of target tokens or frames, not per rank.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sigtrain::speech {

struct DurationBucketOptions {
  std::vector<int64_t> boundaries_frames;    // ascending inclusive upper bounds; [] = one bucket
  int64_t max_frames_per_batch = 20000;      // padded frames: batch size x longest utterance
  int64_t max_utterances_per_batch = 0;      // 0 = no limit
  bool shuffle = true;
  uint64_t seed = 0;
};

struct PlannedBatch {
  std::vector<int64_t> utterances;  // corpus indices, longest first
  int64_t longest_frames = 0;
  int64_t frames = 0;               // sum over the utterances
  int64_t padded_frames() const { return longest_frames * static_cast<int64_t>(utterances.size()); }
  double padding_fraction() const;
};

// What a checkpoint stores. `fingerprint` covers the utterance list (ids and planned frames) and the plan options,
// so resuming on other data, or with other buckets, is refused.
struct BatcherState {
  int64_t next_batch = 0;
  uint64_t seed = 0;
  int64_t batches_per_epoch = 0;
  int64_t utterances = 0;
  uint64_t fingerprint = 0;
  nlohmann::json to_json() const;
  static BatcherState from_json(const nlohmann::json& j);  // throws std::runtime_error naming the field
};

class DurationBatcher {
 public:
  // ids[u] and frames[u] describe utterance u. Throws std::invalid_argument for unsorted boundaries, a limit < 1,
  // sizes that differ, or no utterances.
  DurationBatcher(const std::vector<std::string>& ids, const std::vector<int64_t>& frames, DurationBucketOptions options);

  int64_t batches_per_epoch() const { return static_cast<int64_t>(plan_.size()); }
  const std::vector<PlannedBatch>& plan() const { return plan_; }  // plan order (not shuffled)
  int64_t oversized() const { return oversized_; }
  uint64_t fingerprint() const { return fingerprint_; }
  const DurationBucketOptions& options() const { return options_; }
  double padding_fraction() const;  // over the whole plan
  // "312 batches of 2,700 utterances in 5 buckets, padding 4.1 %, 0 oversized (max 20000 frames)".
  std::string summary() const;

  int64_t epoch_of(int64_t global_index) const { return global_index / batches_per_epoch(); }
  // The plan batch at a global stream index. Thread-safe.
  const PlannedBatch& batch_at(int64_t global_index) const;

  static int64_t rank_batch_index(int64_t position, int64_t j, int rank, int world);

  int64_t position() const { return position_; }
  void advance(int64_t batches);
  BatcherState state() const { return state_at(position_); }
  BatcherState state_at(int64_t position) const;
  // Throws std::runtime_error when the seed, the utterance list or the plan differ, naming what and both values.
  void restore(const BatcherState& state);

 private:
  int64_t plan_index(int64_t global_index) const;
  DurationBucketOptions options_;
  std::vector<PlannedBatch> plan_;
  int64_t utterances_ = 0;
  int64_t oversized_ = 0;
  size_t buckets_used_ = 0;
  uint64_t fingerprint_ = 0;
  int64_t position_ = 0;
  mutable std::mutex permutation_mutex_;
  mutable int64_t permutation_epoch_ = -1;
  mutable std::vector<int64_t> permutation_;
};

}  // namespace sigtrain::speech
