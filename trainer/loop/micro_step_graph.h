#pragma once
// train.cuda_graphs: one micro-step's forward and backward as a CUDA graph, captured once per input shape and
// replayed.
//
// Why: where a step's kernels are small, LibTorch's per-op dispatch and launch cost on the host leaves the GPU idle
// between them; a replay launches the micro-step's hundreds of kernels with one call. The single-cell encoder's
// step went from 14.5 to 2.7 ms with it (GPU idle 92 % of the eager step); GPT-2-small's, whose kernels are large,
// gained nothing (docs/benchmarks.md).
//
// What it takes (checked by the caller; anything else runs the same body eagerly, as without graphs):
//   * recurring input shapes: one graph per shape, up to train.cuda_graphs_max_shapes, captured the second time an
//     eligible micro-batch of that shape comes (trainer/loop/graph_shapes.h); other shapes run eagerly. All graphs
//     share one memory pool, so the graphs together hold about the largest shape's activations, not their sum.
//     Sharing is safe in any replay order because what a capture leaves allocated is either scratch (workspaces)
//     or the loss, which the caller reads before the next micro-step (run()'s contract): one graph's replay may
//     overwrite another's intermediates, never something still needed,
//   * no host synchronisation and no host-side data in the body (tasks whose loss reads host arrays, such as
//     CTC's lengths, are not eligible),
//   * gradients that keep their memory: the loop zeroes them in place instead of freeing them, so the captured
//     accumulation (grad += ...) writes into the tensors the optimizer reads,
//   * one process (the data-parallel gradient hooks all-reduce during backward; not captured here).
// The captured kernels are those of an eager micro-step, launched in the same order on the same data, so a
// replay computes what the eager body would; dropout draws from LibTorch's graph-safe Philox state, which
// advances per replay as it does per eager call.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "trainer/loop/graph_shapes.h"
#include "trainer/tasks/task.h"

namespace at::cuda {
struct CUDAGraph;
}

namespace sigtrain::trainer {

class MicroStepGraph {
 public:
  // The micro-step: forward, loss, backward; returns the micro-batch's loss (detached).
  using Body = std::function<torch::Tensor(const Batch&)>;

  // Captures a shape on its second eligible micro-step after `warmup_micro_steps` eager ones (cuBLAS handles,
  // autotuning and lazily made tensors are created by those, not inside the capture); at most `max_shapes` graphs.
  explicit MicroStepGraph(int64_t max_shapes, int64_t warmup_micro_steps = 3);
  ~MicroStepGraph();
  MicroStepGraph(const MicroStepGraph&) = delete;
  MicroStepGraph& operator=(const MicroStepGraph&) = delete;

  // Runs one micro-step: eagerly (during warm-up, when `eligible` is false, or for a shape not captured), else by
  // copying the batch into its shape's static inputs and replaying that graph. The returned loss is valid until
  // the next call.
  torch::Tensor run(const Batch& batch, const Body& body, bool eligible);

 private:
  struct Captured {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    Batch static_batch;          // the graph's inputs: each micro-batch of its shape is copied into these tensors
    torch::Tensor static_loss;   // the graph's output
  };
  Captured capture(const Batch& batch, const Body& body);

  GraphShapePolicy policy_;
  // The graphs' shared pool (an at::cuda::MempoolId_t) and, for captures called on the default stream, the one side
  // stream they all run on, made at the first such capture. One stream because LibTorch keeps its cuBLAS and
  // cuBLASLt workspaces per stream (32 MiB each on Hopper): a new pool stream per capture left them allocated per
  // graph (single-cell peak 1.11 -> 0.78 GiB with one stream, docs/benchmarks.md). The training loop calls run() on a
  // stream of its own (run_stream.h), which the captures then use, so that no side stream is made at all.
  std::optional<std::pair<unsigned long long, unsigned long long>> pool_;
  std::optional<c10::Stream> capture_stream_;
  bool told_cap_ = false;
  std::vector<Captured> graphs_;  // by the policy's graph index
};

}  // namespace sigtrain::trainer
