#pragma once
// The trainer's config sections: optim, schedule, train, eval, checkpoint, logging.
// Each struct parses its own section; `sigtrain config` prints the resolved values, defaults included.
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"

namespace sigtrain::trainer {

struct OptimConfig {
  double lr_peak = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool decay_norms = false;       // AdamW decay on norm gains/LayerScale (off by default)
  bool decay_biases = false;
  bool decay_embeddings = false;
  std::optional<double> clip;     // max global grad norm; nullopt = no clipping (norm is still measured)
  std::string fused = "auto";     // auto (fused multi-tensor step on CUDA, per-parameter on CPU) | true | false
  static OptimConfig parse(config::SectionReader& r);
};

struct ScheduleConfig {
  std::string kind = "cosine";    // cosine | linear | constant | wsd
  int64_t warmup_steps = 100;
  double lr_min_ratio = 0.1;      // final lr = lr_min_ratio * lr_peak (cosine, linear, wsd)
  double decay_fraction = 0.2;    // wsd: fraction of steps spent decaying at the end
  static ScheduleConfig parse(config::SectionReader& r);
};

struct TrainConfig {
  int64_t steps = 1000;
  int64_t global_batch_tokens = 16384;  // tokens per optimizer step, over all ranks and micro-steps
  int64_t micro_batch_size = 8;         // sequences per forward/backward on one rank
  uint64_t seed = 1337;
  std::string device = "auto";          // auto | cpu | cuda
  std::string precision = "auto";       // auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
  int64_t threads = 0;                  // CPU intra-op threads; 0 = LibTorch's default
  bool deterministic = true;            // deterministic algorithms where LibTorch offers them
  static TrainConfig parse(config::SectionReader& r);
};

struct EvalConfig {
  int64_t every = 100;                  // steps; 0 = only at the end
  int64_t tokens = 65536;               // validation tokens per evaluation (a fixed set)
  int64_t batch_size = 8;               // sequences per evaluation forward
  static EvalConfig parse(config::SectionReader& r);
};

struct CheckpointConfig {
  int64_t every = 0;                    // steps; 0 = only at the end
  int64_t keep_last = 3;
  bool save_final = true;
  static CheckpointConfig parse(config::SectionReader& r);
};

struct LoggingConfig {
  int64_t every = 10;                   // steps between progress lines / metrics records
  std::string level = "info";           // debug | info | warn | error
  static LoggingConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
