#pragma once
// `sigtrain train`: one function that runs a training job from config files to a finished run folder.
// The step itself reads top to bottom in training_run.cpp (TrainingRun::train_step): micro-batches -> forward ->
// loss -> backward, then global grad norm (always measured), optional clipping, the scheduled lr, the AdamW update.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct TrainOptions {
  std::vector<std::string> config_files;
  std::vector<std::string> overrides;      // key.path=value, applied after the files
  std::string run_dir;                     // empty: runs/<config name>-<UTC time>, or the resumed run's folder
  std::optional<std::string> resume;       // "" = the latest checkpoint of run_dir; else a run or checkpoint folder
  bool allow_defaults = false;             // accept a config file without keys (a run on defaults alone)
};

// A run that started and then failed: its summary.json (status `failed`, `reason`) is written; exit status 1.
// Carries the original error's message.
class RunFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Returns the process exit status (common/exit_status.h): kOk when the run completed (or was complete already),
// kRunFailed when it diverged. Everything found wrong before the run folder is touched is thrown as
// config::ConfigError or CheckpointError (exit status 2); an error after that is recorded in summary.json and thrown
// as RunFailed.
int run_training(const TrainOptions& options);

// `sigtrain config`: the fully resolved config (defaults included) as YAML; validates like `train` does (the same
// checks, trainer/loop/run_checks.h, for one rank).
std::string resolve_config(const std::vector<std::string>& config_files, const std::vector<std::string>& overrides,
                           bool allow_defaults = false);

}  // namespace sigtrain::trainer
