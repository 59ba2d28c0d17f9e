#pragma once
// All sections of a run, each parsed by the component that owns it; the task's own sections (data, mlm,
// singlecell, ...) by the task registered under `run.task` (trainer/tasks/task_registry.h).
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "common/config.h"
#include "models/model_config.h"
#include "trainer/checkpoint/checkpoint_config.h"
#include "trainer/distributed/dist_config.h"
#include "models/fused_ops.h"
#include "trainer/instruments/monitor_config.h"
#include "trainer/instruments/profile_config.h"
#include "trainer/loop/train_config.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/optim/optim_config.h"
#include "trainer/tasks/task_registry.h"
#include "trainer/testing/test_hooks_config.h"

namespace sigtrain::trainer {

struct RunConfig {
  std::string name;  // run name: `run.name`, default the first config file's stem
  std::string task;  // `run.task`, resolved (auto → the task that claims the config)
  std::shared_ptr<const TaskConfig> task_config;  // the task's own sections
  models::ModelConfig model;
  models::AttentionConfig attention;
  models::FusedOpsConfig fused_ops;  // own CUDA kernels in place of LibTorch ops (models/fused_ops.h)
  OptimConfig optim;
  ScheduleConfig schedule;
  TrainConfig train;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  LoggingConfig logging;
  MonitorConfig monitor;  // stability instruments and policies (trainer/instruments/monitor_config.h)
  ProfileConfig profile;  // a CUPTI breakdown of a few steps (trainer/instruments/profile_config.h)
  DistConfig dist;
  TestHooksConfig test_hooks;  // fault injection for tests (trainer/testing/test_hooks_config.h); off by default
  std::string resolved_yaml;  // every value above, defaults included

  // Tokens per training sequence (the task's): sequences per step = train.global_batch_tokens / seq_len().
  int64_t seq_len() const { return task_config->seq_len(); }
  // The task's config as its own type; std::logic_error when the run trains another task.
  template <class T>
  const T& task_as() const {
    const auto* c = dynamic_cast<const T*>(task_config.get());
    if (c == nullptr) throw std::logic_error("run config of task '" + task + "' has no " + typeid(T).name());
    return *c;
  }

  // Parses every section and rejects keys no component read.
  static RunConfig parse(config::ConfigTree& tree, const std::string& default_name);
};

RunConfig load_run_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides);

}  // namespace sigtrain::trainer
