// Damaged, incomplete and mismatched checkpoints are clear errors and are never modified.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/loop/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

class CheckpointErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fixture::fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    cfg_ = fixture::write_tiny_config(dir_);
    trainer::TrainOptions opts;
    opts.config_files = {cfg_};
    opts.overrides = {"train.steps=10", "eval.every=0"};
    opts.run_dir = (dir_ / "run").string();
    ASSERT_EQ(trainer::run_training(opts), 0);
    ckpt_ = dir_ / "run" / "checkpoints" / "step_00000010";
    ASSERT_TRUE(fs::exists(ckpt_ / "DONE"));
  }

  std::string resume_error(const std::vector<std::string>& overrides = {}) {
    trainer::TrainOptions opts;
    opts.config_files = {cfg_};
    opts.overrides = overrides;
    opts.overrides.push_back("train.steps=20");
    opts.run_dir = (dir_ / "resumed").string();
    opts.resume = ckpt_.string();
    try {
      trainer::run_training(opts);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "<no error>";
  }

  fs::path dir_, ckpt_;
  std::string cfg_;
};

}  // namespace

TEST_F(CheckpointErrors, DamagedFileIsNamedAndLeftAlone) {
  std::string bytes = read_file((ckpt_ / "model.pt").string());
  bytes[bytes.size() / 2] ^= 0x5a;
  write_file_atomic((ckpt_ / "model.pt").string(), bytes);
  std::string e = resume_error();
  EXPECT_NE(e.find("step_00000010: model.pt is damaged (checksum mismatch"), std::string::npos) << e;
  EXPECT_EQ(read_file((ckpt_ / "model.pt").string()), bytes);  // never overwritten
}

TEST_F(CheckpointErrors, IncompleteCheckpointIsRefused) {
  fs::remove(ckpt_ / "DONE");
  std::string e = resume_error();
  EXPECT_NE(e.find("no complete checkpoint found"), std::string::npos) << e;
  EXPECT_THROW(trainer::peek_checkpoint(ckpt_.string()), trainer::CheckpointError);
}

TEST_F(CheckpointErrors, OtherModelConfigIsRefusedWithTheDifference) {
  std::string e = resume_error({"model.n_layer=3"});
  EXPECT_NE(e.find("was written with a different config"), std::string::npos) << e;
  EXPECT_NE(e.find("model.n_layer: 2 -> 3"), std::string::npos) << e;
}

TEST_F(CheckpointErrors, RetentionKeepsTheLastK) {
  trainer::TrainOptions opts;
  opts.config_files = {cfg_};
  opts.overrides = {"train.steps=40", "eval.every=0", "checkpoint.every=10", "checkpoint.keep_last=2"};
  opts.run_dir = (dir_ / "keep").string();
  ASSERT_EQ(trainer::run_training(opts), 0);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ / "keep" / "checkpoints")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step_00000030", "step_00000040"}));
}
