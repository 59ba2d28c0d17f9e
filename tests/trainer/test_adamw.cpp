// The fused AdamW step (optim.fused, trainer/optim/optimizer.h) on CPU: same math and state as AdamW::step(), the
// config key, and bit-exact resume of a fused run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/config.h"
#include "tests/trainer/adamw_compare.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

TEST(FusedAdamW, MatchesPerParameterStepOnCpu) {
  auto d = fixture::compare_adamw_steps(torch::kCPU, 5, [](torch::optim::AdamW& opt, int) {
    trainer::fused_adamw_step(opt);
  });
  EXPECT_GT(d.decayed, 0);
  EXPECT_GT(d.undecayed, 0);
  fixture::expect_same_adamw_state(d);
  std::printf("fused vs per-parameter (CPU), max relative difference: params %.2e, exp_avg %.2e, exp_avg_sq %.2e\n",
              d.params, d.exp_avg, d.exp_avg_sq);
}

TEST(FusedAdamW, SharesStateWithThePerParameterStep) {
  // Fused and per-parameter steps alternate on one optimizer (what a resume with optim.fused switched does).
  auto d = fixture::compare_adamw_steps(torch::kCPU, 6, [](torch::optim::AdamW& opt, int step) {
    trainer::adamw_step(opt, /*fused=*/step % 2 == 0);
  });
  fixture::expect_same_adamw_state(d);
}

TEST(FusedAdamW, StepBumpsTheVersionOfEachSteppedParameter) {
  // What models::WeightCasts relies on to refuse a stale compute-dtype copy; at::_fused_adamw_ alone does not bump.
  torch::Tensor stepped = torch::randn({8, 4}).requires_grad_(true), frozen = torch::randn({4}).requires_grad_(true);
  torch::optim::AdamW opt({stepped, frozen}, torch::optim::AdamWOptions(1e-2));
  stepped.mutable_grad() = torch::ones_like(stepped);
  const auto stepped_before = stepped._version(), frozen_before = frozen._version();
  trainer::fused_adamw_step(opt);
  EXPECT_GT(stepped._version(), stepped_before);
  EXPECT_EQ(frozen._version(), frozen_before) << "no gradient: not stepped";
}

TEST(FusedAdamW, ClipDivisorInsideTheStepEqualsClippingFirst) {
  // Gradients at 3x the maximum norm: clipped inside the step (a division) or before it (a product), the same
  // parameters and written-back gradients to float rounding.
  auto d = fixture::compare_clip_inside_step(torch::kCPU, 3.0);
  EXPECT_LT(d.params, 1e-6);
  EXPECT_LT(d.grads, 1e-6);
  EXPECT_GT(d.grads, 0.0) << "a division and a product round differently somewhere in 90K values";
  // Below the maximum the divisor is exactly 1 and the clip factor exactly 1: bit for bit.
  EXPECT_TRUE(fixture::compare_clip_inside_step(torch::kCPU, 0.25).bit_equal);
}

TEST(FusedAdamW, ClipDivisor) {
  auto norm = torch::tensor(3.0f);
  EXPECT_FLOAT_EQ(trainer::clip_divisor(norm, 1.5).item<float>(), static_cast<float>((3.0f + 1e-6f) / 1.5));
  EXPECT_EQ(trainer::clip_divisor(torch::tensor(0.2f), 1.5).item<float>(), 1.0f);
  EXPECT_EQ(trainer::clip_divisor(norm, 1.5).scalar_type(), torch::kFloat32);
  // The per-parameter step takes no divisor: it is an error, not a silently unclipped step.
  torch::Tensor p = torch::randn({4}).requires_grad_(true);
  p.mutable_grad() = torch::ones_like(p);
  torch::optim::AdamW opt({p}, torch::optim::AdamWOptions(1e-2));
  EXPECT_THROW(trainer::adamw_step(opt, /*fused=*/false, norm), c10::Error);
}

TEST(ZeroGradients, InPlaceKeepsTheTensorsOrFreesThem) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> params = {torch::randn({4, 3}).requires_grad_(true), torch::randn({5}).requires_grad_(true),
                                       torch::randn({2}).requires_grad_(true)};
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-3));
  (params[0].sum() * 2 + params[1].square().sum()).backward();  // params[2] gets no gradient
  const void* g0 = params[0].grad().data_ptr();
  const void* g1 = params[1].grad().data_ptr();
  ASSERT_GT(params[1].grad().abs().sum().item<double>(), 0.0);
  trainer::zero_gradients(opt, /*set_to_none=*/false);
  EXPECT_EQ(params[0].grad().data_ptr(), g0) << "zeroed in place, not reallocated";
  EXPECT_EQ(params[1].grad().data_ptr(), g1);
  EXPECT_EQ(params[0].grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(params[1].grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(params[2].grad().defined()) << "no gradient is created";
  // The next backward accumulates into the same tensors.
  (params[0].sum() * 3).backward();
  EXPECT_EQ(params[0].grad().data_ptr(), g0);
  EXPECT_TRUE(torch::equal(params[0].grad(), torch::full({4, 3}, 3.0)));
  trainer::zero_gradients(opt, /*set_to_none=*/true);
  EXPECT_FALSE(params[0].grad().defined());
  EXPECT_FALSE(params[1].grad().defined());
}

TEST(FusedAdamW, ConfigKey) {
  auto dir = fixture::fresh_dir("adamw_cfg");
  const std::string tiny = fixture::write_tiny_config(dir);
  // Default auto: fused on CUDA only.
  auto cfg = trainer::load_run_config({tiny}, {});
  EXPECT_EQ(cfg.optim.fused, "auto");
  EXPECT_NE(cfg.resolved_yaml.find("fused: auto"), std::string::npos) << cfg.resolved_yaml;
  EXPECT_FALSE(trainer::use_fused_adamw(cfg.optim, torch::kCPU));
  EXPECT_TRUE(trainer::use_fused_adamw(cfg.optim, torch::Device(torch::kCUDA, 0)));
  cfg = trainer::load_run_config({tiny}, {"optim.fused=true"});
  EXPECT_TRUE(trainer::use_fused_adamw(cfg.optim, torch::kCPU));
  cfg = trainer::load_run_config({tiny}, {"optim.fused=false"});
  EXPECT_FALSE(trainer::use_fused_adamw(cfg.optim, torch::Device(torch::kCUDA, 0)));

  // An unknown value names the file, the line, the key and the choices.
  const std::string bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << "optim:\n  lr_peak: 0.01\n  fused: maybe\n";
  trainer::TrainOptions opts;
  opts.config_files = {tiny, bad};
  opts.run_dir = (dir / "run").string();
  try {
    trainer::run_training(opts);
    FAIL() << "expected a config error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":3: optim.fused: expected one of auto | true | false, got 'maybe'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints"));
}

TEST(FusedAdamW, ResumeIsBitExact) {
  // As TrainingRun.ResumeIsBitExact, with the fused step: 20 steps straight (checkpoints at 10 and 20) versus a copy
  // "crashed" after step 10 and resumed in place from its checkpoint (whose config has optim.fused: true).
  auto dir = fixture::fresh_dir("adamw_resume");
  ASSERT_EQ(fixture::train_tiny(dir, "straight", {"optim.fused=true"}), 0);
  EXPECT_NE(fixture::read_text(dir / "straight" / "train.log").find("AdamW step: fused"), std::string::npos);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);  // the checkpoint's config has optim.fused: true
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  fixture::expect_same_records(dir / "straight", dir / "crashed");
}

TEST(FusedAdamW, ResumeWithTheOtherStep) {
  // A per-parameter run's checkpoint resumed with optim.fused=true: the same optimizer state carries on, so the run
  // ends where the straight per-parameter run does, to float rounding.
  auto dir = fixture::fresh_dir("adamw_switch");
  ASSERT_EQ(fixture::train_tiny(dir, "straight", {"optim.fused=false"}), 0);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "switched");
  ASSERT_EQ(fixture::resume_in_place(dir / "switched", {"optim.fused=true"}), 0);
  EXPECT_NE(fixture::read_text(dir / "switched" / "train.log").find("AdamW step: fused"), std::string::npos);

  auto a = fixture::read_json(dir / "straight" / "summary.json");
  auto b = fixture::read_json(dir / "switched" / "summary.json");
  EXPECT_EQ(b["status"], "completed");
  EXPECT_EQ(b["last_step"], 20);
  const double la = a["final_train_loss"].get<double>(), lb = b["final_train_loss"].get<double>();
  const double sa = a["param_l2"].get<double>(), sb = b["param_l2"].get<double>();
  EXPECT_LT(std::abs(la - lb), 1e-3 * std::abs(la)) << la << " vs " << lb;
  EXPECT_LT(std::abs(sa - sb), 1e-4 * std::abs(sa)) << sa << " vs " << sb;
  std::printf("per-parameter 20 steps vs 10 + 10 fused: train loss %.9g vs %.9g, param l2 %.9g vs %.9g\n", la, lb,
              sa, sb);
}
