#pragma once
// Deterministic language-model sampling with a restorable position, designed for data parallelism.
//
// The training stream is a sequence of global sample indices k = 0, 1, 2, ... The train shard is cut into
// N = (tokens - 1) / seq_len windows; window w covers tokens [w*T, w*T + T + 1) (T = seq_len), so inputs are the
// first T tokens and targets the last T (inputs shifted by one); every token is a target once per epoch. Sample k
// is window perm_e[k mod N] of epoch e = k / N, where perm_e is a Fisher-Yates shuffle driven by std::mt19937_64
// seeded from (seed, e). mt19937_64's output is fixed by the C++ standard and the shuffle and the bounded draw are
// our own code (data/shuffle.h; not std::shuffle / std::uniform_int_distribution), so the order is the same with
// any compiler and standard library.
//
// Data parallelism: a global step consumes G consecutive sample indices [s, s+G). Rank r of W takes the contiguous
// slice rank_slice(G, r, W) of them, so the W slices concatenated are exactly the 1-rank batch. The position is a
// single global counter (SamplerState::next_sample), independent of the world size.
#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/token_shard.h"

namespace sigtrain::data {

// What a checkpoint stores to continue the stream. The shard fields detect resuming on different data.
struct SamplerState {
  int64_t next_sample = 0;      // global index of the next sample to draw
  uint64_t seed = 0;            // the run seed the permutations derive from
  int64_t seq_len = 0;
  int64_t shard_tokens = 0;     // train shard token count
  uint64_t shard_checksum = 0;  // train shard payload checksum

  nlohmann::json to_json() const;
  // Throws std::runtime_error naming the missing or ill-typed field.
  static SamplerState from_json(const nlohmann::json& j);
};

// A contiguous part of `total` items for `rank` of `world`: the first total % world ranks get one item more.
struct RankSlice {
  int64_t offset = 0;
  int64_t count = 0;
};
RankSlice rank_slice(int64_t total, int rank, int world);

// Copies the window starting at token `start`: inputs = tokens[start, start+T), targets = tokens[start+1, start+T+1).
void copy_window(const TokenShard& shard, int64_t start, int64_t seq_len, int32_t* inputs, int32_t* targets);

class LmSampler {
 public:
  // Keeps its own (shared, read-only) handle on the shard. Throws when the shard has fewer than seq_len + 1 tokens.
  LmSampler(const TokenShard& shard, int64_t seq_len, uint64_t seed);

  int64_t seq_len() const { return seq_len_; }
  uint64_t seed() const { return seed_; }
  int64_t windows_per_epoch() const { return windows_; }

  // Token offset of global sample `sample`'s window in the shard.
  int64_t window_start(int64_t sample) const;
  // Writes samples first_sample .. first_sample+count-1 into inputs and targets, each [count, seq_len] row-major.
  // Not thread-safe (it caches the current epoch's permutation).
  void fill(int64_t first_sample, int64_t count, int32_t* inputs, int32_t* targets) const;

  // The stream position: the global index of the next sample.
  int64_t next_sample() const { return next_sample_; }
  // Fills this rank's slice (rank_slice(global_samples, rank, world)) of the next global batch and advances the
  // position by global_samples (all of it, on every rank). Returns the slice's sample count. With gradient
  // accumulation, call fill() per micro-batch inside the slice and advance() once per step instead.
  int64_t next_batch(int64_t global_samples, int rank, int world, int32_t* inputs, int32_t* targets);
  // The global index of the first sample of micro-batch `micro` (of `micro_batch` samples) inside this rank's slice
  // of the next global batch: the one rule every task's data parallelism relies on.
  int64_t micro_batch_start(int64_t global_samples, int rank, int world, int64_t micro, int64_t micro_batch) const;
  void advance(int64_t samples);

  SamplerState state() const;
  // Continues from `state`. Throws std::runtime_error when seed, seq_len or the shard differ.
  void restore(const SamplerState& state);

 private:
  const std::vector<uint32_t>& permutation(int64_t epoch) const;
  TokenShard shard_;
  int64_t seq_len_;
  uint64_t seed_;
  int64_t windows_;
  int64_t next_sample_ = 0;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<uint32_t> perm_;
};

// A fixed validation set: the same windows for every run with the same shard and seq_len, in a fixed order, so
// losses are comparable across runs and ranks can split it with rank_slice().
class LmValidationSet {
 public:
  // Up to max_tokens / seq_len windows (all N = (tokens - 1) / seq_len when max_tokens <= 0 or when they fit),
  // spread evenly over the shard: window i starts at token floor(i * N / n) * seq_len. Throws when the shard has
  // fewer than seq_len + 1 tokens.
  LmValidationSet(const TokenShard& shard, int64_t seq_len, int64_t max_tokens);

  int64_t num_windows() const { return static_cast<int64_t>(starts_.size()); }
  int64_t num_tokens() const { return num_windows() * seq_len_; }  // predicted tokens
  int64_t seq_len() const { return seq_len_; }
  int64_t window_start(int64_t i) const { return starts_.at(static_cast<size_t>(i)); }
  void fill(int64_t first_window, int64_t count, int32_t* inputs, int32_t* targets) const;

 private:
  TokenShard shard_;
  int64_t seq_len_;
  std::vector<int64_t> starts_;
};

}  // namespace sigtrain::data
