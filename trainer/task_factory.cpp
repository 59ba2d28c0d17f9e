#include "trainer/task_factory.h"

#include "trainer/cell_task.h"
#include "trainer/lm_task.h"
#include "trainer/mlm_task.h"

namespace sigtrain::trainer {

std::unique_ptr<Task> make_task(const RunConfig& cfg) {
  if (cfg.singlecell)  // masked expression on cells (trainer/cell_task.h); the LM corpus is never prepared
    return std::make_unique<CellTask>(*cfg.singlecell, cfg.model, cfg.train.seed, cfg.train.micro_batch_size,
                                      cfg.eval.tokens, cfg.eval.batch_size);
  if (cfg.model.arch == models::Arch::kDecoder)
    return std::make_unique<LmTask>(cfg.data, cfg.train.seed, cfg.eval.tokens);
  if (cfg.model.arch == models::Arch::kEncoder)  // masked tokens on text (trainer/mlm_task.h)
    return std::make_unique<MlmTask>(cfg.data, cfg.mlm, cfg.train.seed, cfg.eval.tokens);
  throw config::ConfigError("model.arch: " + std::string(models::to_string(cfg.model.arch)) +
                            " has no training task yet; use arch: decoder");
}

}  // namespace sigtrain::trainer
