#pragma once
// All sections of a run, each parsed by the component that owns it.
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/lm_corpus.h"
#include "data/singlecell/singlecell_config.h"
#include "models/model_config.h"
#include "trainer/dist_config.h"
#include "trainer/mlm_config.h"
#include "trainer/monitor_config.h"
#include "trainer/train_config.h"

namespace sigtrain::trainer {

// Section `singlecell`: a single-cell run (masked-expression task, trainer/cell_task.h) instead of the LM corpus.
// The data keys are data/singlecell/singlecell_config.h's; `pooling` is the task's (docs/singlecell.md §Training).
struct SingleCellRunConfig {
  singlecell::SingleCellDataConfig data;
  std::string pooling = "mean";  // cell embedding for the metrics: cls | mean (over the valid tokens)
};

struct RunConfig {
  std::string name;  // run name: `run.name`, default the first config file's stem
  data::DataConfig data;
  models::ModelConfig model;
  models::AttentionConfig attention;
  OptimConfig optim;
  ScheduleConfig schedule;
  TrainConfig train;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  LoggingConfig logging;
  MonitorConfig monitor;  // stability instruments and policies (trainer/monitor_config.h)
  MlmConfig mlm;          // masked-token objective of the encoder (trainer/mlm_config.h)
  DistConfig dist;
  // Present when the config has a `singlecell` section: the run trains the masked-expression task on cells, the
  // `data` (LM corpus) section is refused, and data.seq_len is set to singlecell.max_len (the padded length bound
  // that the trainer's batch arithmetic uses: sequences per step = global_batch_tokens / max_len).
  std::optional<SingleCellRunConfig> singlecell;
  std::string resolved_yaml;  // every value above, defaults included

  // Parses every section and rejects keys no component read.
  static RunConfig parse(config::ConfigTree& tree, const std::string& default_name);
};

RunConfig load_run_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides);

}  // namespace sigtrain::trainer
