#include "trainer/tasks/task_registry.h"

#include <filesystem>
#include <mutex>

#include "trainer/tasks/builtin_tasks.h"

namespace sigtrain::trainer {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<TaskDefinition> tasks;
};

Registry& registry() {
  // The built-in domains, in claim order: explicit sections (single-cell) before the architecture defaults.
  static Registry* r = [] {
    auto* reg = new Registry();
    reg->tasks = builtin_task_definitions();
    return reg;
  }();
  return *r;
}

std::string registered_names(const std::vector<TaskDefinition>& tasks) {
  std::string names;
  for (const auto& t : tasks) names += (names.empty() ? "" : " | ") + t.name;
  return names;
}

}  // namespace

const std::vector<TaskDefinition>& task_definitions() { return registry().tasks; }

void register_task(TaskDefinition definition) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (auto& t : r.tasks)
    if (t.name == definition.name) {
      t = std::move(definition);
      return;
    }
  r.tasks.push_back(std::move(definition));
}

const TaskDefinition& task_definition(const std::string& name) {
  for (const auto& t : task_definitions())
    if (t.name == name) return t;
  throw config::ConfigError("run.task: unknown task '" + name + "'; registered: auto | " +
                            registered_names(task_definitions()));
}

void require_path(const std::string& key, const std::string& path, bool folder, const std::string& hint) {
  namespace fs = std::filesystem;
  if (folder ? fs::is_directory(path) : fs::exists(path)) return;
  throw config::ConfigError(key + ": " + path + (fs::exists(path) ? " is not a folder" : " does not exist") +
                            (hint.empty() ? "" : "; " + hint));
}

const TaskDefinition& claim_task(const config::ConfigTree& tree, const models::ModelConfig& model) {
  for (const auto& t : task_definitions())
    if (t.claims && t.claims(tree, model)) return t;
  throw config::ConfigError("run.task: no task trains model.arch: " + std::string(models::to_string(model.arch)) +
                            " with these sections; set run.task to one of " + registered_names(task_definitions()));
}

}  // namespace sigtrain::trainer
