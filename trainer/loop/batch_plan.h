#pragma once
// Batch arithmetic: global batch in tokens -> sequences per step -> each rank's micro-batches and accumulation.
#include <cstdint>

namespace sigtrain::trainer {

struct RunConfig;

struct BatchPlan {
  int64_t seq_len = 0;
  int64_t seqs_per_step = 0;   // over all ranks
  int64_t seqs_per_rank = 0;
  int64_t micro_batch = 0;
  int64_t accum_steps = 0;
  int64_t tokens_per_step() const { return seqs_per_step * seq_len; }
};

// ConfigError naming train.global_batch_tokens when the batch does not split into whole micro-batches per rank.
BatchPlan plan_batches(const RunConfig& cfg, int world_size);

}  // namespace sigtrain::trainer
