// End-to-end training on CPU: the run folder's files, learning, and bit-exact resume.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/config.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

TEST(TrainingRun, WritesRunFolderAndLearns) {
  auto dir = testing::fresh_dir("learns");
  trainer::TrainOptions opts;
  opts.config_files = {testing::write_tiny_config(dir)};
  opts.overrides = {"train.steps=60", "eval.every=60", "checkpoint.every=0"};
  opts.run_dir = (dir / "run").string();
  ASSERT_EQ(trainer::run_training(opts), 0);

  for (const char* f : {"config.yaml", "metrics.jsonl", "summary.json", "train.log"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  auto summary = testing::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["last_step"], 60);
  auto records = testing::read_jsonl(dir / "run" / "metrics.jsonl");
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
  // Byte-level model at init: loss ≈ ln(257) = 5.55. Measured after 60 steps (seed 1337): ≈ 2.4.
  EXPECT_GT(first_val, 5.0);
  EXPECT_LT(last_val, 3.0) << "validation loss did not fall: " << first_val << " -> " << last_val;
}

TEST(TrainingRun, TinyModelOverfitsOneBatch) {
  // Every step sees the same 16 windows: a working model/optimizer drives the training loss far down.
  auto dir = testing::fresh_dir("overfit");
  trainer::TrainOptions opts;
  opts.config_files = {testing::write_tiny_config(dir)};
  // val_fraction 0.98 leaves 1 window per... keep it simple: a train split of exactly 16 windows of 32 tokens.
  opts.overrides = {"train.steps=150", "optim.lr_peak=0.003", "schedule.kind=constant", "eval.every=0",
                    "checkpoint.save_final=false", "data.val_fraction=0.985"};
  opts.run_dir = (dir / "run").string();
  ASSERT_EQ(trainer::run_training(opts), 0);
  auto summary = testing::read_json(dir / "run" / "summary.json");
  // Measured: ≈ 0.2 after 150 steps; an untrained byte model sits at 5.55.
  EXPECT_LT(summary["final_train_loss"].get<double>(), 1.0) << summary.dump();
}

TEST(TrainingRun, ResumeIsBitExact) {
  // 20 steps straight (checkpoints at 10 and 20) versus a copy of that run "crashed" after step 10 (its later
  // checkpoint and summary gone, its metrics running past step 10) and resumed in place: N + resume + N == 2N.
  auto dir = testing::fresh_dir("resume");
  trainer::TrainOptions straight;
  straight.config_files = {testing::write_tiny_config(dir)};
  straight.run_dir = (dir / "straight").string();
  ASSERT_EQ(trainer::run_training(straight), 0);

  fs::copy(dir / "straight", dir / "crashed", fs::copy_options::recursive);
  fs::remove_all(dir / "crashed" / "checkpoints" / "step_00000020");
  fs::remove(dir / "crashed" / "summary.json");
  trainer::TrainOptions resumed;  // no --config: the checkpoint's own config is used
  resumed.run_dir = (dir / "crashed").string();
  resumed.resume = "";
  ASSERT_EQ(trainer::run_training(resumed), 0);

  auto a = testing::read_json(dir / "straight" / "summary.json");
  auto b = testing::read_json(dir / "crashed" / "summary.json");
  EXPECT_EQ(a["param_checksum"], b["param_checksum"]);
  EXPECT_EQ(a["final_train_loss"], b["final_train_loss"]);
  EXPECT_EQ(a["final_val_loss"], b["final_val_loss"]);
  // metrics.jsonl of the resumed run reads as one run: the same records as the straight run.
  auto ra = testing::read_jsonl(dir / "straight" / "metrics.jsonl");
  auto rb = testing::read_jsonl(dir / "crashed" / "metrics.jsonl");
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i]["step"], rb[i]["step"]);
    EXPECT_EQ(ra[i]["type"], rb[i]["type"]);
    for (const char* k : {"loss", "grad_norm", "lr", "val_loss"})
      if (ra[i].contains(k)) EXPECT_EQ(ra[i][k], rb[i][k]) << k << " at step " << ra[i]["step"];
  }
}

TEST(TrainingRun, ConfigErrorsNameTheKey) {
  auto dir = testing::fresh_dir("cfgerr");
  trainer::TrainOptions opts;
  opts.config_files = {testing::write_tiny_config(dir)};
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
  opts.config_files = {testing::write_tiny_config(dir)};
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
