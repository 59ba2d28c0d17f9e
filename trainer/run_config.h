#pragma once
// All sections of a run, each parsed by the component that owns it.
#include <string>
#include <vector>

#include "common/config.h"
#include "data/lm_corpus.h"
#include "models/model_config.h"
#include "trainer/train_config.h"

namespace sigtrain::trainer {

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
  std::string resolved_yaml;  // every value above, defaults included

  // Parses every section and rejects keys no component read.
  static RunConfig parse(config::ConfigTree& tree, const std::string& default_name);
};

RunConfig load_run_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides);

}  // namespace sigtrain::trainer
