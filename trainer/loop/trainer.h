#pragma once
// `sigtrain train`: one function that runs a training job from config files to a finished run folder.
// The step itself reads top to bottom in trainer.cpp (train_step): micro-batches -> forward -> loss -> backward,
// then global grad norm (always measured), optional clipping, the scheduled lr, the AdamW update.
#include <optional>
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct TrainOptions {
  std::vector<std::string> config_files;
  std::vector<std::string> overrides;      // key.path=value, applied after the files
  std::string run_dir;                     // empty: runs/<config name>-<UTC time>, or the resumed run's folder
  std::optional<std::string> resume;       // "" = the latest checkpoint of run_dir; else a run or checkpoint folder
};

// Returns the process exit code: 0 completed, 1 failed, 3 diverged. Errors in the config are thrown
// (config::ConfigError) before anything is written.
int run_training(const TrainOptions& options);

// `sigtrain config`: the fully resolved config (defaults included) as YAML; validates like `train` does.
std::string resolve_config(const std::vector<std::string>& config_files, const std::vector<std::string>& overrides);

}  // namespace sigtrain::trainer
