// The vision task end to end on the committed Fashion-MNIST slice (64 training, 32 test images): the eval record
// (loss, top-1/top-5, per-class accuracy), learning, bit-exact resume, the loader's restorable position, the
// loss with label smoothing and soft targets, and config errors that name the key.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <cstdio>
#include <fstream>

#include "tests/trainer/training_fixture.h"
#include "trainer/loop/run_config.h"
#include "trainer/instruments/h5_series_writer.h"
#include "trainer/instruments/report.h"
#include "trainer/loop/trainer.h"
#include "trainer/tasks/vision_task.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

std::string write_vit_config(const fs::path& dir, const std::string& extra = "") {
  const std::string data = std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/vision/fashion-mnist";
  std::string yaml = "data:\n  format: idx\n  path: " + data +
                     "\n  image_size: 28\n  channels: 1\n  pad_crop: 2\n  hflip: 0.5\n  mean: [0.286]\n"
                     "  std: [0.353]\n  workers: 2\n"
                     "vision:\n  label_smoothing: 0.1\n"
                     "model:\n  arch: vit\n  n_layer: 2\n  d_model: 32\n  n_head: 2\n  norm: layernorm\n"
                     "  mlp: gelu\n  bias: true\n  qk_norm: true\n  vision:\n    patch_size: 7\n"
                     "attention:\n  kind: sigmoid\n  backend: math\n"
                     "optim:\n  lr_peak: 0.003\n  weight_decay: 0.05\n"
                     "schedule:\n  kind: cosine\n  warmup_steps: 3\n"
                     "train:\n  steps: 20\n  global_batch_tokens: 544\n  micro_batch_size: 16\n  device: cpu\n"
                     "  threads: 1\n"
                     "eval:\n  every: 10\n  batch_size: 16\n"
                     "checkpoint:\n  every: 10\n  keep_last: 5\n"
                     "logging:\n  every: 5\n  level: warn\n" +
                     extra;
  const fs::path path = dir / "vit.yaml";
  std::ofstream(path) << yaml;
  return path.string();
}

int train_vit(const fs::path& dir, const std::string& name, const std::vector<std::string>& overrides = {}) {
  trainer::TrainOptions opts;
  opts.config_files = {write_vit_config(dir)};
  opts.overrides = overrides;
  opts.run_dir = (dir / name).string();
  return trainer::run_training(opts);
}

}  // namespace

TEST(VisionTask, TrainsAndRecordsAccuracy) {
  const auto dir = fixture::fresh_dir("vision_trains");
  // 4 x 4 patches of 7 px + CLS = 17 tokens; 544 = 32 images per step, two micro-batches of 16.
  ASSERT_EQ(train_vit(dir, "run", {"train.steps=40", "eval.every=40", "checkpoint.every=0", "data.hflip=0",
                                   "data.pad_crop=0", "optim.lr_peak=0.002"}),
            0);
  const auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["task"], "vision");
  EXPECT_EQ(summary["status"], "completed");
  ASSERT_TRUE(summary["eval"].contains("per_class_accuracy"));
  EXPECT_EQ(summary["eval"]["per_class_accuracy"].size(), 10u);
  EXPECT_EQ(summary["eval"]["test_images"], 32);
  EXPECT_EQ(summary["report_metrics"][0]["key"], "top1");
  std::vector<nlohmann::json> evals;
  for (const auto& r : fixture::read_jsonl(dir / "run" / "metrics.jsonl"))
    if (r["type"] == "eval") evals.push_back(r);
  ASSERT_EQ(evals.size(), 2u);
  for (const auto& e : evals) {
    for (const char* k : {"val_loss", "top1", "top5"}) ASSERT_TRUE(e.contains(k)) << k;
    EXPECT_GE(e["top5"].get<double>(), e["top1"].get<double>());
    // Accuracy counts whole images: a multiple of 1/32.
    EXPECT_NEAR(e["top1"].get<double>() * 32, std::round(e["top1"].get<double>() * 32), 1e-9);
  }
  // Untrained: about ln 10 = 2.30 and chance accuracy; after 40 steps on 64 images it has learned something
  // (measured: 2.31 -> 1.80, top-1 0.06 -> 0.47).
  EXPECT_NEAR(evals[0]["val_loss"].get<double>(), std::log(10.0), 0.3);
  EXPECT_LT(evals[1]["val_loss"].get<double>(), evals[0]["val_loss"].get<double>() - 0.3);
  EXPECT_GT(evals[1]["top1"].get<double>(), 0.3);
  EXPECT_TRUE(fs::exists(dir / "run" / "classes.json"));

  // The report shows the task's metrics beside the losses: the last evaluation's top-1 as "final top-1 acc".
  trainer::ReportOptions report;
  report.run_dirs = {(dir / "run").string()};
  report.out_dir = (dir / "report").string();
  report.plots = false;
  const auto result = trainer::make_report(report);
  char final_top1[32];
  std::snprintf(final_top1, sizeof final_top1, "%.4f", evals[1]["top1"].get<double>());
  const auto row = result.table.find("final top-1 acc");
  ASSERT_NE(row, std::string::npos) << result.table;
  EXPECT_NE(result.table.substr(row, result.table.find('\n', row) - row).find(final_top1), std::string::npos)
      << result.table;
  // The evaluations are series of metrics.h5 too, beside the training series.
  trainer::H5Series top1, steps;
  ASSERT_TRUE(trainer::h5_read_series((dir / "run" / "metrics.h5").string(), "eval/top1", &top1));
  ASSERT_TRUE(trainer::h5_read_series((dir / "run" / "metrics.h5").string(), "eval/step", &steps));
  ASSERT_EQ(top1.rows(), 2);
  EXPECT_EQ(steps.values[1], 40);
  EXPECT_NEAR(top1.values[1], evals[1]["top1"].get<double>(), 1e-6);
  const auto json = fixture::read_json(dir / "report" / "report.json");
  EXPECT_EQ(json["runs"][0]["eval_metrics"]["top1"]["values"].size(), 2u);
}

TEST(VisionTask, ResumeIsBitExact) {
  const auto dir = fixture::fresh_dir("vision_resume");
  ASSERT_EQ(train_vit(dir, "straight"), 0);
  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "resumed");
  ASSERT_EQ(fixture::resume_in_place(dir / "resumed"), 0);
  fixture::expect_same_summary(dir / "straight", dir / "resumed");
  fixture::expect_same_records(dir / "straight", dir / "resumed");
  const auto a = fixture::read_json(dir / "straight" / "summary.json");
  const auto b = fixture::read_json(dir / "resumed" / "summary.json");
  EXPECT_EQ(a["eval"], b["eval"]);
}

TEST(VisionTask, HeadWiderThanTheDataEvaluates) {
  // model.vision.num_classes above the data's 10 classes (as a 1000-class preset on a smaller set): the per-class
  // counts stay the data's.
  const auto dir = fixture::fresh_dir("vision_wide_head");
  ASSERT_EQ(train_vit(dir, "run", {"model.vision.num_classes=16", "train.steps=2", "eval.every=2",
                                   "checkpoint.every=0"}),
            0);
  const auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["eval"]["per_class_accuracy"].size(), 10u);
}

TEST(VisionTask, LossWithSmoothingAndSoftTargets) {
  torch::manual_seed(0);
  auto logits = torch::randn({4, 3}, torch::kFloat64);
  auto labels = torch::tensor({0, 2, 1, 2}, torch::kLong);
  const double eps = 0.1;
  auto ours = trainer::VisionTask::cross_entropy_sum(logits, labels, eps).item<double>();
  double direct = 0;
  for (int i = 0; i < 4; ++i) {
    const auto row = logits[i];
    const double lse = std::log(row.exp().sum().item<double>());
    for (int k = 0; k < 3; ++k) {
      const double target = (k == labels[i].item<int64_t>() ? 1 - eps : 0.0) + eps / 3;
      direct -= target * (row[k].item<double>() - lse);
    }
  }
  EXPECT_NEAR(ours, direct, 1e-5);
  // A one-hot distribution is the same as the class ids.
  auto one_hot = torch::one_hot(labels, 3).to(torch::kFloat32);
  EXPECT_NEAR(trainer::VisionTask::cross_entropy_sum(logits, one_hot, 0.0).item<double>(),
              trainer::VisionTask::cross_entropy_sum(logits, labels, 0.0).item<double>(), 1e-5);
}

TEST(VisionTask, ConfigErrorsNameTheKey) {
  const auto dir = fixture::fresh_dir("vision_errors");
  const std::string file = write_vit_config(dir);
  auto error_of = [&](const std::vector<std::string>& overrides) -> std::string {
    try {
      trainer::load_run_config({file}, overrides);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(trainer::load_run_config({file}, {}).task, "vision");
  EXPECT_EQ(trainer::load_run_config({file}, {}).seq_len(), 17);
  EXPECT_NE(error_of({"model.vision.patch_size=5"}).find("data.image_size: 28 is not a multiple of model.vision.patch_size 5"),
            std::string::npos)
      << error_of({"model.vision.patch_size=5"});
  EXPECT_NE(error_of({"model.vision.channels=3"}).find("data.channels"), std::string::npos);
  EXPECT_NE(error_of({"model.positions=rope"}).find("model.positions"), std::string::npos);
  EXPECT_NE(error_of({"vision.label_smoothing=1"}).find("vision.label_smoothing"), std::string::npos);
  EXPECT_NE(error_of({"data.format=jpeg"}).find("data.format"), std::string::npos);
  // A vision section in an LM run is an unknown key.
  const std::string lm = fixture::write_tiny_config(dir);
  try {
    trainer::load_run_config({lm}, {"vision.label_smoothing=0.1"});
    FAIL() << "an LM run accepted a vision section";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vision"), std::string::npos) << e.what();
  }
}

TEST(VisionTask, MissingDataNamesTheFolder) {
  const auto dir = fixture::fresh_dir("vision_missing");
  trainer::TrainOptions opts;
  opts.config_files = {write_vit_config(dir)};
  opts.overrides = {"data.path=" + (dir / "nowhere").string()};
  opts.run_dir = (dir / "run").string();
  try {
    trainer::run_training(opts);
    FAIL() << "trained without data";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "nowhere").string()), std::string::npos) << e.what();
  }
}
