#include "trainer/run_config.h"

#include <filesystem>

namespace sigtrain::trainer {
namespace {

// Each component parses its own section: `Section::parse(SectionReader&)`.
template <class Section>
Section parse_section(config::ConfigTree& tree, const char* name) {
  config::SectionReader reader(tree, name);
  return Section::parse(reader);
}

}  // namespace

RunConfig RunConfig::parse(config::ConfigTree& tree, const std::string& default_name) {
  RunConfig c;
  config::SectionReader run(tree, "run");
  c.name = run.get_string("name", default_name);
  if (tree.root().find("singlecell") != nullptr) {
    // A single-cell run (trainer/cell_task.h): no LM corpus; the trainer's batch arithmetic uses max_len.
    if (tree.root().find("data") != nullptr)
      throw config::ConfigError("data: a single-cell run (section singlecell) reads no LM corpus; remove the data "
                                "section (the cells come from singlecell.path)");
    config::SectionReader sc(tree, "singlecell");
    SingleCellRunConfig s;
    s.data = singlecell::parse_singlecell_config(sc);
    const singlecell::SingleCellDataConfig defaults;  // (the resolved config of a run records the defaults)
    if (s.data.batch_size != defaults.batch_size || s.data.max_tokens_per_batch != defaults.max_tokens_per_batch)
      sc.fail(s.data.batch_size != defaults.batch_size ? "batch_size" : "max_tokens_per_batch",
              "a training run batches train.micro_batch_size cells per micro-batch and "
              "train.global_batch_tokens / max_len cells per step; remove this key");
    s.pooling = sc.get_enum("pooling", s.pooling, {"cls", "mean"});
    c.data.seq_len = s.data.max_len;
    c.singlecell = std::move(s);
  } else {
    c.data = parse_section<data::DataConfig>(tree, "data");
  }
  c.model = parse_section<models::ModelConfig>(tree, "model");
  c.attention = parse_section<models::AttentionConfig>(tree, "attention");
  c.optim = parse_section<OptimConfig>(tree, "optim");
  c.schedule = parse_section<ScheduleConfig>(tree, "schedule");
  c.train = parse_section<TrainConfig>(tree, "train");
  c.eval = parse_section<EvalConfig>(tree, "eval");
  c.checkpoint = parse_section<CheckpointConfig>(tree, "checkpoint");
  c.logging = parse_section<LoggingConfig>(tree, "logging");
  c.monitor = parse_section<MonitorConfig>(tree, "monitor");
  c.mlm = parse_section<MlmConfig>(tree, "mlm");
  c.dist = parse_section<DistConfig>(tree, "dist");
  tree.check_all_consumed();
  c.resolved_yaml = tree.resolved_yaml();
  return c;
}

RunConfig load_run_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  auto tree = config::ConfigTree::load(files, overrides);
  std::string name = files.empty() ? "run" : std::filesystem::path(files.front()).stem().string();
  return RunConfig::parse(tree, name);
}

}  // namespace sigtrain::trainer
