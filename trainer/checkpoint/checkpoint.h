#pragma once
// Checkpoints: one folder per saved step, `checkpoints/step_00000100/`, holding
//   model.pt      parameters and buffers by name           (torch archive)
//   optimizer.pt  AdamW state and param groups             (torch archive)
//   rng.pt        CPU and CUDA generator states            (torch archive)
//   state.json    step, data position, schedule, world size, build info, file checksums
//   config.yaml   the resolved config of the run
//   DONE          written last: a folder without it is incomplete and never loaded
// A checkpoint is written into `step_X.tmp-<pid>/` and renamed into place only when complete, so a crash or a
// failed run never leaves a half-written checkpoint under a real name and never touches an earlier one.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sigtrain::trainer {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointContents {
  int64_t step = 0;
  nlohmann::json state;      // trainer-defined: data position, metrics so far, ...
  std::string config_yaml;   // resolved config the checkpoint was written with
};

class CheckpointManager {
 public:
  CheckpointManager(std::string checkpoints_dir, int64_t keep_last);

  // Writes a complete checkpoint for `step` (atomically), then prunes beyond keep_last. Returns its folder.
  // `before_done` runs after every file is in place and before the DONE marker (data parallelism: a barrier).
  std::string save(int64_t step, const torch::nn::Module& model, const torch::optim::Optimizer& optimizer,
                   const nlohmann::json& state, const std::string& config_yaml,
                   const std::function<void()>& before_done = {});

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int64_t keep_last_;
};

// The newest complete checkpoint folder under a checkpoints dir, a run dir, or the folder itself.
std::optional<std::string> find_latest_checkpoint(const std::string& path);

// Verifies DONE and checksums, then loads model, optimizer and RNG states. Throws CheckpointError naming the
// folder, the file and what is wrong (missing, damaged, parameter missing or of another shape).
CheckpointContents load_checkpoint(const std::string& checkpoint_dir, torch::nn::Module& model,
                                   torch::optim::Optimizer& optimizer);

// Reads state.json and config.yaml only (to decide how to resume before the model exists).
CheckpointContents peek_checkpoint(const std::string& checkpoint_dir);

// FNV-1a digest of all parameters' bytes (fp32, CPU order by name): equal digests mean bit-equal parameters.
std::string parameter_digest(const torch::nn::Module& model);

}  // namespace sigtrain::trainer
