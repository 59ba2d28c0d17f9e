// Bit-exact resume on the GPU with every fast path on (issue 14 item 5): bf16 autocast, the fused attention
// kernels, fused cross-entropy, norms and GELU MLP (fused_ops: auto on CUDA), fused AdamW. 20 steps straight versus
// the same run "crashed" after step 10 and resumed in place: the same losses, gradient norms and parameters, bit for
// bit. The GEMMs' timed algorithm choices (fused_ops.gemm_algo: auto, one process) are forgotten before the resume,
// as a new process would have none: the resumed run must take them back from the checkpoint. Skips without CUDA.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "models/gemm_algos.h"
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
  EXPECT_NE(log.find("[fused_ops.gemm_algo: auto]: the fastest of 8 candidates"), std::string::npos);
  const auto step_state = [&](const std::string& run, const char* step) {  // the trainer's part of state.json
    return fixture::read_json(dir / run / "checkpoints" / step / "state.json").at("state");
  };
  const auto saved = step_state("straight", "step_00000010");
  ASSERT_TRUE(saved.contains("gemm_algos")) << "the checkpoint keeps the timed choices";
  EXPECT_NE(saved["gemm_algos"].get<std::string>().find("\n"), std::string::npos) << "a header and problems";

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  models::forget_gemm_algos();
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);
  EXPECT_NE(fixture::read_text(dir / "crashed" / "train.log").find("the checkpoint's choices restored"),
            std::string::npos);
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  fixture::expect_same_records(dir / "straight", dir / "crashed");
  EXPECT_EQ(step_state("crashed", "step_00000020")["gemm_algos"],
            step_state("straight", "step_00000020")["gemm_algos"]);
}
