#pragma once
// The training loop's own CUDA stream, for runs with train.cuda_graphs.
//
// Why: LibTorch keeps a cuBLAS and a cuBLASLt workspace per stream (32 MiB each on Hopper), and a CUDA graph cannot
// be captured on the default stream. A loop on the default stream that captures on a side stream therefore holds
// two sets of workspaces; the single-cell encoder's peak stayed at 0.78 GiB against PyTorch's 0.73 with them
// (docs/benchmarks.md). With the whole loop on one pool stream, the eager micro-steps, the captures
// (micro_step_graph.h captures on the current stream when it is not the default one), the replays and the optimizer
// share one set.
//
// RunStream is a scope: it makes a pool stream current, which first waits for the work queued on the stream current
// before (the model's initialisation, a checkpoint's upload); on exit that stream is current again and waits for
// everything queued on the pool stream. Both waits are stream-to-stream (no host synchronisation).
#include <memory>

namespace sigtrain::trainer {

class RunStream {
 public:
  RunStream();
  ~RunStream();
  RunStream(const RunStream&) = delete;
  RunStream& operator=(const RunStream&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sigtrain::trainer
