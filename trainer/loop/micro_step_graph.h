#pragma once
// train.cuda_graphs: one micro-step's forward and backward as a CUDA graph, captured once and replayed.
//
// Why: a GPT-2-small step is host-bound (docs/benchmarks.md "Training speed": 37.2 ms of wall time for 34.9 ms of
// kernels): LibTorch's per-op dispatch and launch cost on the host leaves the GPU idle between kernels. A replay
// launches the micro-step's ~1,000 kernels with one call.
//
// What it takes (checked by the caller; anything else runs the same body eagerly, as without graphs):
//   * the same input shapes every micro-step (the first shapes seen are captured; other shapes run eagerly),
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

#include "trainer/tasks/task.h"

namespace at::cuda {
struct CUDAGraph;
}

namespace sigtrain::trainer {

class MicroStepGraph {
 public:
  // The micro-step: forward, loss, backward; returns the micro-batch's loss (detached).
  using Body = std::function<torch::Tensor(const Batch&)>;

  // Captures on the first eligible micro-step after `warmup_micro_steps` eager ones (cuBLAS handles, autotuning
  // and lazily made tensors are created by those, not inside the capture).
  explicit MicroStepGraph(int64_t warmup_micro_steps = 3);
  ~MicroStepGraph();
  MicroStepGraph(const MicroStepGraph&) = delete;
  MicroStepGraph& operator=(const MicroStepGraph&) = delete;

  // Runs one micro-step: eagerly (during warm-up, when `eligible` is false, or for shapes other than the captured
  // ones), else by copying the batch into the graph's static inputs and replaying. The returned loss is valid
  // until the next call.
  torch::Tensor run(const Batch& batch, const Body& body, bool eligible);

 private:
  bool matches(const Batch& batch) const;
  void capture(const Batch& batch, const Body& body);

  int64_t warmup_micro_steps_;
  int64_t seen_ = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  Batch static_batch_;          // the graph's inputs: each micro-batch is copied into these tensors
  torch::Tensor static_loss_;   // the graph's output
};

}  // namespace sigtrain::trainer
