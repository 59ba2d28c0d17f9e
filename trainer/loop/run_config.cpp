#include "trainer/loop/run_config.h"

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
  std::vector<std::string> task_names = {"auto"};
  for (const auto& t : task_definitions()) task_names.push_back(t.name);
  const std::string asked = run.get_enum("task", "auto", task_names);
  c.model = parse_section<models::ModelConfig>(tree, "model");
  c.attention = parse_section<models::AttentionConfig>(tree, "attention");
  c.fused_ops = parse_section<models::FusedOpsConfig>(tree, "fused_ops");
  const TaskDefinition& task = asked == "auto" ? claim_task(tree, c.model) : task_definition(asked);
  c.task = task.name;
  c.task_config = task.parse(tree, c.model);
  c.optim = parse_section<OptimConfig>(tree, "optim");
  c.schedule = parse_section<ScheduleConfig>(tree, "schedule");
  c.train = parse_section<TrainConfig>(tree, "train");
  c.eval = parse_section<EvalConfig>(tree, "eval");
  c.checkpoint = parse_section<CheckpointConfig>(tree, "checkpoint");
  c.logging = parse_section<LoggingConfig>(tree, "logging");
  c.monitor = parse_section<MonitorConfig>(tree, "monitor");
  c.profile = parse_section<ProfileConfig>(tree, "profile");
  c.dist = parse_section<DistConfig>(tree, "dist");
  c.test_hooks = parse_section<TestHooksConfig>(tree, "test_hooks");
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
