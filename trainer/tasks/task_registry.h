#pragma once
// The one seam a domain plugs into. A task is registered by name (`run.task`) with
//   * its own config sections (parsed by `parse`, which also checks them against the model config),
//   * `make`: the data it prepares and the Task object (batches, loss, evaluation metrics, model builder),
//   * the config keys a checkpoint must match to be resumed under this task,
//   * the evaluation metrics `sigtrain report` shows for its runs.
// The loop (trainer/loop/) names no task: it asks the registry. Adding a domain = a task file with a
// TaskDefinition, a data reader, a model file and a configs folder; the definition is added to the list in
// builtin_tasks.h (docs/architecture.md, "Adding a domain"). Torch-free header.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/model_config.h"

namespace sigtrain::trainer {

class Task;
struct RunConfig;

// A task's parsed sections. The batch arithmetic of the loop needs one number from it: tokens per sequence.
class TaskConfig {
 public:
  virtual ~TaskConfig() = default;
  // Tokens (positions) per training sequence: global_batch_tokens / seq_len() sequences make one step.
  virtual int64_t seq_len() const = 0;
  // The config key that sets it (for errors), e.g. "data.seq_len".
  virtual const char* seq_len_key() const = 0;
};

// One evaluation metric the report shows: a key of the eval records in metrics.jsonl.
struct ReportMetric {
  std::string key;       // e.g. "top1"
  std::string label;     // column heading, e.g. "top-1 acc"
  bool higher_is_better = true;
};

struct TaskDefinition {
  std::string name;         // the value of run.task
  std::string description;  // one line for errors and `sigtrain config`
  // For run.task: auto -- whether this task trains `tree` with `model`; the first claimant in registration order
  // wins (e.g. a `singlecell` section before the decoder/encoder defaults).
  std::function<bool(const config::ConfigTree& tree, const models::ModelConfig& model)> claims;
  // Parses the task's own sections and checks them against the model (ConfigError naming the key).
  std::function<std::shared_ptr<const TaskConfig>(config::ConfigTree& tree, const models::ModelConfig& model)>
      parse;
  // Checks that the task's input files exist (cheap: no data is read), before the run folder is created;
  // config::ConfigError naming the key. Optional.
  std::function<void(const RunConfig& cfg)> check_inputs;
  // Prepares the data and returns the task (called on rank 0 first, then on the others: see the loop).
  std::function<std::unique_ptr<Task>(const RunConfig& cfg)> make;
  // Config sections or keys a checkpoint must match, beyond the loop's own (model, attention, seed, batch).
  std::vector<std::string> resume_must_match;
  std::vector<ReportMetric> report_metrics;
};

// The registered tasks, in registration order (the built-in ones first).
const std::vector<TaskDefinition>& task_definitions();
// Adds (or replaces, by name) a task definition; for tasks outside this library, e.g. in tests.
void register_task(TaskDefinition definition);
// Throws config::ConfigError listing the registered names when `name` is unknown.
const TaskDefinition& task_definition(const std::string& name);
// run.task: auto resolved by the claims; ConfigError when no task claims the config.
const TaskDefinition& claim_task(const config::ConfigTree& tree, const models::ModelConfig& model);

// For check_inputs: ConfigError "<key>: <path> does not exist" unless `path` is a file (or, with `folder`, a folder).
void require_path(const std::string& key, const std::string& path, bool folder, const std::string& hint = "");

}  // namespace sigtrain::trainer
