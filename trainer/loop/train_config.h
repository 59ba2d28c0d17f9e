#pragma once
// The loop's own config sections: train (steps, batch, device, precision), eval, logging.
// Each struct parses its own section; `sigtrain config` prints the resolved values, defaults included.
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/log.h"

namespace sigtrain::trainer {

struct TrainConfig {
  int64_t steps = 1000;
  int64_t global_batch_tokens = 16384;  // tokens per optimizer step, over all ranks and micro-steps
  int64_t micro_batch_size = 8;         // sequences per forward/backward on one rank
  uint64_t seed = 1337;
  std::string device = "auto";          // auto | cpu | cuda
  std::string precision = "auto";       // auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
  int64_t threads = 0;                  // CPU intra-op threads; 0 = LibTorch's default
  bool deterministic = true;            // deterministic algorithms where LibTorch offers them
  bool fill_uninitialized_memory = false;  // with deterministic: NaN-fill new tensors (debugging; costs time)
  // off | on | auto: one micro-step's forward and backward as a replayed CUDA graph per input shape
  // (trainer/loop/micro_step_graph.h); auto: on where it can run (CUDA, one process), else off.
  std::string cuda_graphs = "off";
  int64_t cuda_graphs_max_shapes = 16;  // graphs kept (each holds its shape's activations between replays)
  static TrainConfig parse(config::SectionReader& r);
};

struct EvalConfig {
  int64_t every = 100;                  // steps; 0 = only at the end
  int64_t tokens = 65536;               // validation tokens per evaluation (a fixed set)
  int64_t batch_size = 8;               // sequences per evaluation forward
  static EvalConfig parse(config::SectionReader& r);
};

struct LoggingConfig {
  int64_t every = 10;                   // steps between progress lines / metrics records
  log::Level level = log::Level::kInfo; // debug | info | warn | error
  static LoggingConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
