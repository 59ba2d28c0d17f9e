// The loop's parts on their own (trainer/loop/training_run.h): one train_step, one evaluate, one save_checkpoint,
// each called directly on a real tiny run; the task registry; a completed run resumed again is left untouched.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>

#include "trainer/checkpoint/checkpoint.h"
#include "trainer/distributed/distributed.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/runtime.h"
#include "trainer/loop/training_run.h"
#include "trainer/tasks/task_registry.h"
#include "training_fixture.h"

namespace sigtrain {
namespace {
namespace fs = std::filesystem;

struct TinyRun {
  explicit TinyRun(const fs::path& dir, const std::vector<std::string>& overrides = {})
      : cfg(trainer::load_run_config({fixture::write_tiny_config(dir)}, overrides)),
        runtime(trainer::select_runtime(cfg.train, 0)),
        dist(cfg.dist, trainer::DistEnv{}, runtime.device) {
    fs::create_directories(dir / "run");
    run = std::make_unique<trainer::TrainingRun>(cfg, runtime, dist, (dir / "run").string(), std::nullopt);
  }
  trainer::RunConfig cfg;
  trainer::Runtime runtime;
  trainer::DistributedContext dist;
  std::unique_ptr<trainer::TrainingRun> run;
};

TEST(TrainingStep, OneStepMovesTheParametersAndTheState) {
  const auto dir = fixture::fresh_dir("training_step_one");
  TinyRun t(dir);
  trainer::TrainingRun& run = *t.run;
  EXPECT_EQ(run.state().step, 0);
  const std::string before = trainer::parameter_digest(run.model());
  const trainer::StepResult first = run.train_step();
  EXPECT_EQ(run.state().step, 1);
  EXPECT_EQ(run.state().tokens_seen, 512);  // train.global_batch_tokens
  EXPECT_NE(trainer::parameter_digest(run.model()), before);
  EXPECT_TRUE(std::isfinite(first.loss.item<double>()));
  EXPECT_GT(first.grad_norm.item<double>(), 0.0);
  // Warmup of 5 steps: step 1 runs at lr_peak / 5.
  EXPECT_DOUBLE_EQ(first.lr, 0.01 / 5);
  run.train_step();
  EXPECT_EQ(run.state().step, 2);
  EXPECT_EQ(run.state().tokens_seen, 1024);
}

TEST(TrainingStep, EvaluateIsTheMeanLossOverTheFixedSet) {
  const auto dir = fixture::fresh_dir("training_step_eval");
  TinyRun t(dir);
  trainer::TrainingRun& run = *t.run;
  const nlohmann::json record = run.evaluate();
  EXPECT_EQ(record["type"], "eval");
  EXPECT_EQ(record["step"], 0);
  // The same number computed directly: every validation window in one batch, summed in float64.
  torch::NoGradGuard no_grad;
  run.model().eval();
  trainer::Task& task = run.task();
  auto [sum, count] = task.loss_sum(run.model(), task.val_batch(0, task.val_size(), torch::kCPU));
  run.model().train();
  EXPECT_NEAR(record["val_loss"].get<double>(), sum.item<double>() / count.item<double>(), 1e-5);
  ASSERT_TRUE(run.state().last_val_loss.has_value());
  EXPECT_EQ(*run.state().last_val_loss, record["val_loss"].get<double>());
  EXPECT_EQ(run.state().best_val_loss, record["val_loss"].get<double>());
  const auto lines = fixture::read_jsonl(dir / "run" / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["val_loss"], record["val_loss"]);
}

TEST(TrainingStep, SaveCheckpointWritesTheCurrentStep) {
  const auto dir = fixture::fresh_dir("training_step_ckpt");
  TinyRun t(dir);
  t.run->train_step();
  t.run->train_step();
  t.run->train_step();
  t.run->save_checkpoint();
  const auto latest = trainer::find_latest_checkpoint((dir / "run").string());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(fs::path(*latest).filename(), "step_00000003");
  const auto contents = trainer::peek_checkpoint(*latest);
  EXPECT_EQ(contents.step, 3);
  EXPECT_EQ(contents.state["tokens_seen"], 3 * 512);
}

TEST(TaskRegistry, TasksAreChosenByNameOrClaim) {
  const auto dir = fixture::fresh_dir("task_registry");
  const std::string cfg_file = fixture::write_tiny_config(dir);
  EXPECT_EQ(trainer::load_run_config({cfg_file}, {}).task, "lm");
  EXPECT_EQ(trainer::load_run_config({cfg_file}, {"model.arch=encoder"}).task, "mlm");
  try {
    trainer::load_run_config({cfg_file}, {"run.task=speech_v0"});
    FAIL() << "an unknown task was accepted";
  } catch (const config::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("run.task"), std::string::npos) << what;
    for (const auto& t : trainer::task_definitions()) EXPECT_NE(what.find(t.name), std::string::npos) << what;
  }
  // Only the chosen task's sections are read: an LM run refuses the mlm section (no component reads it).
  EXPECT_THROW(trainer::load_run_config({cfg_file}, {"mlm.mask_fraction=0.2"}), config::ConfigError);
  EXPECT_NO_THROW(trainer::load_run_config({cfg_file}, {"model.arch=encoder", "mlm.mask_fraction=0.2"}));
  // A task registered from outside the library plugs in without touching the loop.
  trainer::TaskDefinition custom = trainer::task_definition("lm");
  custom.name = "lm_copy";
  custom.claims = nullptr;
  trainer::register_task(custom);
  EXPECT_EQ(trainer::load_run_config({cfg_file}, {"run.task=lm_copy"}).task, "lm_copy");
}

TEST(TrainingRun, ResumingACompletedRunLeavesItsFolderUntouched) {
  const auto dir = fixture::fresh_dir("resume_completed");
  ASSERT_EQ(fixture::train_tiny(dir, "run"), 0);
  auto snapshot = [&] {  // every file's path -> a hash of its bytes (equal maps: a byte-identical folder)
    std::map<std::string, size_t> files;
    for (const auto& e : fs::recursive_directory_iterator(dir / "run"))
      if (e.is_regular_file()) files[e.path().string()] = std::hash<std::string>{}(fixture::read_text(e.path()));
    return files;
  };
  const auto before = snapshot();
  EXPECT_EQ(fixture::resume_in_place(dir / "run"), 0);
  EXPECT_EQ(before, snapshot());
  // With more steps it continues from the last checkpoint and extends the records.
  EXPECT_EQ(fixture::resume_in_place(dir / "run", {"train.steps=25"}), 0);
  const auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["last_step"], 25);
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(fixture::read_jsonl(dir / "run" / "metrics.jsonl").back()["step"], 25);
}

}  // namespace
}  // namespace sigtrain
