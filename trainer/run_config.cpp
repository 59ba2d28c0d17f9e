#include "trainer/run_config.h"

#include <filesystem>

namespace sigtrain::trainer {

RunConfig RunConfig::parse(config::ConfigTree& tree, const std::string& default_name) {
  RunConfig c;
  config::SectionReader run(tree, "run");
  c.name = run.get_string("name", default_name);
  config::SectionReader data(tree, "data");
  c.data = data::DataConfig::parse(data);
  config::SectionReader model(tree, "model");
  c.model = models::ModelConfig::parse(model);
  config::SectionReader attention(tree, "attention");
  c.attention = models::AttentionConfig::parse(attention);
  config::SectionReader optim(tree, "optim");
  c.optim = OptimConfig::parse(optim);
  config::SectionReader schedule(tree, "schedule");
  c.schedule = ScheduleConfig::parse(schedule);
  config::SectionReader train(tree, "train");
  c.train = TrainConfig::parse(train);
  config::SectionReader eval(tree, "eval");
  c.eval = EvalConfig::parse(eval);
  config::SectionReader checkpoint(tree, "checkpoint");
  c.checkpoint = CheckpointConfig::parse(checkpoint);
  config::SectionReader logging(tree, "logging");
  c.logging = LoggingConfig::parse(logging);
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
