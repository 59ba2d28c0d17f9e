#include "trainer/loop/batch_plan.h"

#include <string>

#include "trainer/loop/run_config.h"

namespace sigtrain::trainer {

BatchPlan plan_batches(const RunConfig& c, int world_size) {
  BatchPlan p;
  p.seq_len = c.seq_len();
  p.micro_batch = c.train.micro_batch_size;
  if (c.train.global_batch_tokens % p.seq_len != 0)
    throw config::ConfigError("train.global_batch_tokens: " + std::to_string(c.train.global_batch_tokens) +
                              " is not a multiple of " + c.task_config->seq_len_key() + " = " +
                              std::to_string(p.seq_len));
  p.seqs_per_step = c.train.global_batch_tokens / p.seq_len;
  if (p.seqs_per_step % (p.micro_batch * world_size) != 0)
    throw config::ConfigError(
        "train.global_batch_tokens: " + std::to_string(p.seqs_per_step) + " sequences per step do not split into " +
        std::to_string(world_size) + " rank(s) x train.micro_batch_size = " + std::to_string(p.micro_batch) +
        "; choose global_batch_tokens = seq_len x micro_batch_size x ranks x accumulation steps");
  p.seqs_per_rank = p.seqs_per_step / world_size;
  p.accum_steps = p.seqs_per_rank / p.micro_batch;
  return p;
}

}  // namespace sigtrain::trainer
