// End-to-end training on CPU: the run folder's files, learning, and bit-exact resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/config.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/loop/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

TEST(TrainingRun, WritesRunFolderAndLearns) {
  auto dir = fixture::fresh_dir("learns");
  trainer::TrainOptions opts;
  opts.config_files = {fixture::write_tiny_config(dir)};
  opts.overrides = {"train.steps=60", "eval.every=60", "checkpoint.every=0"};
  opts.run_dir = (dir / "run").string();
  ASSERT_EQ(trainer::run_training(opts), 0);

  for (const char* f : {"config.yaml", "metrics.jsonl", "summary.json", "train.log"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["last_step"], 60);
  auto records = fixture::read_jsonl(dir / "run" / "metrics.jsonl");
  double first_val = -1, last_val = -1;
  int train_records = 0;
  for (const auto& r : records) {
    if (r["type"] == "eval") (first_val < 0 ? first_val : last_val) = r["val_loss"].get<double>();
    if (r["type"] == "train") {
      ++train_records;
      for (const char* k : {"step", "loss", "lr", "grad_norm", "tokens_per_s"}) EXPECT_TRUE(r.contains(k)) << k;
    }
  }
  EXPECT_GE(train_records, 12);
  // Byte-level model at init: loss ≈ ln(257) = 5.55. Measured after 60 steps (seed 1337): 3.06.
  EXPECT_GT(first_val, 5.0);
  EXPECT_LT(last_val, 3.3) << "validation loss did not fall: " << first_val << " -> " << last_val;
}

TEST(TrainingRun, CudaGraphsAutoIsOffOnTheCpuAndTheRunTrainsAsWithout) {
  // train.cuda_graphs: auto where graphs cannot run: the run says so and trains exactly as with graphs off.
  auto dir = fixture::fresh_dir("graphs_auto_cpu");
  ASSERT_EQ(fixture::train_tiny(dir, "auto", {"train.steps=3", "train.cuda_graphs=auto", "logging.level=info"}), 0);
  ASSERT_EQ(fixture::train_tiny(dir, "off", {"train.steps=3", "train.cuda_graphs=off"}), 0);
  EXPECT_NE(fixture::read_text(dir / "auto" / "train.log").find("train.cuda_graphs: auto: off (not on a CUDA device)"),
            std::string::npos);
  const auto a = fixture::read_jsonl(dir / "auto" / "metrics.jsonl");
  const auto o = fixture::read_jsonl(dir / "off" / "metrics.jsonl");
  ASSERT_EQ(a.size(), o.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i]["type"] == "train") EXPECT_EQ(a[i]["loss"], o[i]["loss"]) << "step " << a[i]["step"];
}

TEST(TrainingRun, TinyModelOverfitsOneBatch) {
  // A 660-byte corpus: its train split is 18 windows of 32 bytes and every step sees 16 of them, so a working
  // model and optimizer drive the training loss far below the untrained 5.55.
  auto dir = fixture::fresh_dir("overfit");
  std::ifstream fixture_text(std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt");
  std::string text(660, '\0');
  fixture_text.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::ofstream(dir / "tiny.txt") << text;
  trainer::TrainOptions opts;
  opts.config_files = {fixture::write_tiny_config(dir)};
  opts.overrides = {"data.corpus=[" + (dir / "tiny.txt").string() + "]", "data.val_fraction=0.1",
                    "train.steps=150", "optim.lr_peak=0.003", "schedule.kind=constant", "eval.every=0",
                    "checkpoint.save_final=false"};
  opts.run_dir = (dir / "run").string();
  ASSERT_EQ(trainer::run_training(opts), 0);
  auto summary = fixture::read_json(dir / "run" / "summary.json");
  // Measured: 0.022 after 150 steps (seed 1337).
  EXPECT_LT(summary["final_train_loss"].get<double>(), 0.2) << summary.dump();
}

TEST(TrainingRun, ResumeIsBitExact) {
  // 20 steps straight (checkpoints at 10 and 20) versus a copy of that run "crashed" after step 10 (its later
  // checkpoint and summary gone, its metrics running past step 10) and resumed in place: N + resume + N == 2N.
  auto dir = fixture::fresh_dir("resume");
  ASSERT_EQ(fixture::train_tiny(dir, "straight"), 0);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  // metrics.jsonl of the resumed run reads as one run: the same records as the straight run.
  fixture::expect_same_records(dir / "straight", dir / "crashed");
}

TEST(TrainingRun, ConfigErrorsNameTheKey) {
  auto dir = fixture::fresh_dir("cfgerr");
  trainer::TrainOptions opts;
  opts.config_files = {fixture::write_tiny_config(dir)};
  opts.overrides = {"optim.lr_peek=0.1"};
  opts.run_dir = (dir / "run").string();
  try {
    trainer::run_training(opts);
    FAIL() << "expected a config error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("optim.lr_peek: unknown key (did you mean `optim.lr_peak`?)"),
              std::string::npos)
        << e.what();
  }
  opts.config_files = {fixture::write_tiny_config(dir)};
  opts.overrides = {"train.global_batch_tokens=500"};
  try {
    trainer::run_training(opts);
    FAIL() << "expected a config error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.global_batch_tokens: 500 is not a multiple of data.seq_len = 32"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints"));
}

TEST(TrainingRun, ShortenedRunWithTheLongSchedulesHorizonIsItsPrefix) {
  // schedule.horizon_steps: a 10-step run laid out for 20 steps trains exactly the first 10 steps of the 20-step
  // run (same lr and loss at every step), while a plain 10-step run decays faster and differs.
  auto dir = fixture::fresh_dir("horizon");
  auto train = [&](const std::string& name, std::vector<std::string> overrides) {
    trainer::TrainOptions opts;
    opts.config_files = {fixture::write_tiny_config(dir)};
    overrides.insert(overrides.end(), {"eval.every=0", "checkpoint.every=0", "checkpoint.save_final=false",
                                       "logging.every=1", "schedule.warmup_steps=2"});
    opts.overrides = overrides;
    opts.run_dir = (dir / name).string();
    return trainer::run_training(opts);
  };
  ASSERT_EQ(train("long", {"train.steps=20"}), 0);
  ASSERT_EQ(train("prefix", {"train.steps=10", "schedule.horizon_steps=20"}), 0);
  ASSERT_EQ(train("short", {"train.steps=10"}), 0);
  auto by_step = [](const std::filesystem::path& run) {
    std::map<int64_t, nlohmann::json> out;
    for (const auto& r : fixture::read_jsonl(run / "metrics.jsonl"))
      if (r["type"] == "train") out[r["step"].get<int64_t>()] = r;
    return out;
  };
  auto long_run = by_step(dir / "long"), prefix = by_step(dir / "prefix"), short_run = by_step(dir / "short");
  ASSERT_EQ(prefix.size(), 10u);
  for (const auto& [step, r] : prefix) {
    EXPECT_EQ(r["lr"], long_run.at(step)["lr"]) << "step " << step;
    EXPECT_EQ(r["loss"], long_run.at(step)["loss"]) << "step " << step;
  }
  EXPECT_NE(short_run.at(10)["lr"], long_run.at(10)["lr"]) << "the plain short run should decay faster";
}
