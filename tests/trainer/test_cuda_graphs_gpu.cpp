// train.cuda_graphs (trainer/loop/micro_step_graph.h) on the GPU: a run that replays captured micro-steps trains
// like the eager run, step for step, with gradient accumulation, bf16 autocast and our fused kernels, and with
// the steps that collect attention statistics falling back to eager ones; a GELU MLP with biases, so the fused
// MLP's cuBLASLt GEMMs are captured too.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#if defined(SIGTRAIN_TORCH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <map>
#include <mutex>
#include <shared_mutex>

#include "tests/trainer/training_fixture.h"

using namespace sigtrain;

namespace {

std::map<int64_t, nlohmann::json> train_records(const std::filesystem::path& run) {
  std::map<int64_t, nlohmann::json> out;
  for (const auto& r : fixture::read_jsonl(run / "metrics.jsonl"))
    if (r["type"] == "train") out[r["step"].get<int64_t>()] = r;
  return out;
}

// The graphed run trains like the eager one, step for step: the same kernels on the same data, with a tolerance
// for kernels that are not bit-reproducible from run to run.
void expect_trains_alike(const std::map<int64_t, nlohmann::json>& eager,
                         const std::map<int64_t, nlohmann::json>& graphed) {
  ASSERT_EQ(graphed.size(), eager.size());
  for (const auto& [step, r] : eager) {
    const double a = r["loss"].get<double>(), b = graphed.at(step)["loss"].get<double>();
    const double ga = r["grad_norm"].get<double>(), gb = graphed.at(step)["grad_norm"].get<double>();
    EXPECT_NEAR(b, a, 1e-3 * std::abs(a)) << "loss at step " << step;
    EXPECT_NEAR(gb, ga, 1e-2 * std::abs(ga)) << "grad norm at step " << step;
    std::printf("step %2ld: loss %.7f eager, %.7f graphed; grad norm %.5f / %.5f\n", static_cast<long>(step), a, b,
                ga, gb);
  }
}

}  // namespace

TEST(CudaGraphsGpu, ReplayedMicroStepsTrainLikeEagerOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto dir = fixture::fresh_dir("cuda_graphs_gpu");
  const std::string tiny = fixture::write_tiny_config(dir);
  auto run = [&](const std::string& name, const std::string& graphs) {
    trainer::TrainOptions opts;
    opts.config_files = {tiny};
    // 2 micro-batches per step (512 tokens = 2 x 8 x 32); attention statistics every 5 steps run eagerly.
    opts.overrides = {"train.device=cuda", "train.precision=bf16", "train.steps=12", "train.micro_batch_size=8",
                      "attention.backend=fused", "model.d_model=128", "model.n_head=2", "model.mlp=gelu",
                      "model.bias=true", "logging.every=1",
                      "monitor.attention_every=5", "eval.every=0", "checkpoint.every=0",
                      "checkpoint.save_final=false", "logging.level=info", "train.cuda_graphs=" + graphs};
    opts.run_dir = (dir / name).string();
    EXPECT_EQ(trainer::run_training(opts), 0);
    return train_records(dir / name);
  };
  const auto eager = run("eager", "off");
  const auto graphed = run("graphed", "on");
  const std::string log = fixture::read_text(dir / "graphed" / "train.log");
  EXPECT_NE(log.find("train.cuda_graphs: captured"), std::string::npos) << "no micro-step was captured";
  expect_trains_alike(eager, graphed);
  // Learning happened through the replays (a replay that dropped the backward would leave the loss flat).
  EXPECT_LT(graphed.at(12)["loss"].get<double>(), graphed.at(1)["loss"].get<double>() - 0.3);
}

TEST(CudaGraphsGpu, LengthBucketedCellsReplayOneGraphPerShape) {
  // The single-cell task's micro-batches come in several widths (length buckets, padded to a multiple of 32, and
  // each bucket's last, smaller batch): one graph per recurring shape, the run training as the eager one does.
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto dir = fixture::fresh_dir("cuda_graphs_cells_gpu");
  const std::string smoke = std::string(SIGTRAIN_SOURCE_DIR) + "/configs/singlecell/smoke_cpu.yaml";
  auto run = [&](const std::string& name, const std::string& graphs) {
    trainer::TrainOptions opts;
    opts.config_files = {smoke};
    opts.overrides = {"train.device=cuda", "train.precision=bf16", "train.steps=40", "attention.backend=fused",
                      "model.d_model=128", "model.n_head=2", "singlecell.pad_to_multiple=32", "logging.every=1",
                      "eval.every=0", "checkpoint.every=0", "checkpoint.save_final=false", "logging.level=info",
                      "train.cuda_graphs=" + graphs, "train.cuda_graphs_max_shapes=32"};
    opts.run_dir = (dir / name).string();
    EXPECT_EQ(trainer::run_training(opts), 0);
    return train_records(dir / name);
  };
  const auto eager = run("eager", "off");
  const auto graphed = run("graphed", "auto");
  const std::string log = fixture::read_text(dir / "graphed" / "train.log");
  size_t captures = 0;
  for (size_t at = log.find("train.cuda_graphs: captured"); at != std::string::npos;
       at = log.find("train.cuda_graphs: captured", at + 1))
    ++captures;
  EXPECT_GE(captures, 2u) << "the buckets' shapes should give several graphs:\n" << log;
  expect_trains_alike(eager, graphed);
  std::printf("%zu graphs captured; loss at step 40: %.6f eager, %.6f graphed\n", captures,
              eager.at(40)["loss"].get<double>(), graphed.at(40)["loss"].get<double>());
}

#if defined(SIGTRAIN_TORCH_CUDA)
namespace {

// LibTorch's cuBLAS and cuBLASLt workspaces kept for `stream` (the maps are keyed by handle and stream); with
// `erase`, those are freed first (after a device synchronisation: no kernel still uses them).
size_t cublas_workspaces_of(cudaStream_t stream, bool erase) {
  if (erase) torch::cuda::synchronize();
  size_t n = 0;
  for (auto* m : {&at::cuda::cublas_handle_stream_to_workspace(), &at::cuda::cublaslt_handle_stream_to_workspace()}) {
    std::unique_lock lock(m->mutex);
    for (auto it = m->map.begin(); it != m->map.end();) {
      if (std::get<1>(it->first) != static_cast<void*>(stream)) {
        ++it;
      } else {
        ++n;
        it = erase ? m->map.erase(it) : std::next(it);
      }
    }
  }
  return n;
}

}  // namespace

TEST(CudaGraphsGpu, GraphedRunKeepsNoWorkspacesOnTheDefaultStream) {
  // With train.cuda_graphs the whole loop runs on a stream of its own and captures on it (trainer/loop/run_stream.h),
  // so LibTorch keeps one set of cuBLAS workspaces (32 MiB each on Hopper). Before, the eager micro-steps and the
  // optimizer ran on the default stream and the captures on a side stream: two sets, the single-cell peak's excess
  // over PyTorch's. The run must leave no workspace on the default stream (the previous tests' are freed first).
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const cudaStream_t default_stream = c10::cuda::getDefaultCUDAStream().stream();
  cublas_workspaces_of(default_stream, /*erase=*/true);
  ASSERT_EQ(cublas_workspaces_of(default_stream, false), 0u);
  auto dir = fixture::fresh_dir("cuda_graphs_stream_gpu");
  trainer::TrainOptions opts;
  opts.config_files = {fixture::write_tiny_config(dir)};
  opts.overrides = {"train.device=cuda", "train.precision=bf16", "train.steps=8", "attention.backend=fused",
                    "model.d_model=128", "model.n_head=2", "model.mlp=gelu", "model.bias=true",
                    "eval.every=4", "checkpoint.every=4", "logging.level=info", "train.cuda_graphs=on"};
  opts.run_dir = (dir / "graphed").string();
  ASSERT_EQ(trainer::run_training(opts), 0);
  EXPECT_NE(fixture::read_text(dir / "graphed" / "train.log").find("train.cuda_graphs: captured"), std::string::npos);
  EXPECT_EQ(cublas_workspaces_of(default_stream, false), 0u)
      << "the graphed run used cuBLAS on the default stream: a second set of workspaces beside its own stream's";
}
#endif
