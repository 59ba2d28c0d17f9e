// Bit-exact resume on the GPU with every fast path on (issue 14 item 5): bf16 autocast, the fused attention
// kernels, fused cross-entropy, norms and GELU MLP (fused_ops: auto on CUDA), fused AdamW. 20 steps straight versus
// the same run "crashed" after step 10 and resumed in place: the same losses, gradient norms and parameters, bit for
// bit. Skips without CUDA.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "tests/trainer/training_fixture.h"

using namespace sigtrain;

TEST(ResumeGpu, FastPathsResumeBitExact) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto dir = fixture::fresh_dir("resume_gpu");
  const std::vector<std::string> gpu = {"train.device=cuda", "train.precision=bf16", "attention.backend=fused",
                                        "model.d_model=128", "model.n_head=2", "model.mlp=gelu", "model.bias=true",
                                        "train.micro_batch_size=8", "logging.level=info"};
  ASSERT_EQ(fixture::train_tiny(dir, "straight", gpu), 0);
  const std::string log = fixture::read_text(dir / "straight" / "train.log");
  EXPECT_NE(log.find("GELU MLP: fused"), std::string::npos) << "the fused MLP was not on";
  EXPECT_NE(log.find("norms: fused kernel"), std::string::npos);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  fixture::expect_same_records(dir / "straight", dir / "crashed");
}
