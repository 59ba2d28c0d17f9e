#include "trainer/loop/micro_step_graph.h"

#if defined(SIGTRAIN_TORCH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#else
namespace at::cuda {
struct CUDAGraph {};  // a LibTorch without CUDA: train.cuda_graphs: on is refused with the config (run_checks.cpp)
}  // namespace at::cuda
#endif

#include <array>
#include <stdexcept>

#include "common/log.h"

namespace sigtrain::trainer {

namespace {

// The batch tensors a graph reads, in a fixed order (undefined ones included), for shape checks and copies;
// pointers to const for a const batch.
template <class B>
auto graph_inputs(B& b) {
  return std::array{&b.inputs.tokens, &b.inputs.values, &b.inputs.lengths, &b.inputs.images, &b.inputs.features,
                    &b.targets};
}

}  // namespace

MicroStepGraph::MicroStepGraph(int64_t warmup_micro_steps) : warmup_micro_steps_(warmup_micro_steps) {}

MicroStepGraph::~MicroStepGraph() = default;

bool MicroStepGraph::matches(const Batch& batch) const {
  const auto want = graph_inputs(static_batch_);
  const auto got = graph_inputs(batch);
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i]->defined() != got[i]->defined()) return false;
    if (!want[i]->defined()) continue;
    if (want[i]->sizes() != got[i]->sizes() || want[i]->scalar_type() != got[i]->scalar_type() ||
        want[i]->device() != got[i]->device())
      return false;
  }
  return true;
}

void MicroStepGraph::capture(const Batch& batch, const Body& body) {
#if !defined(SIGTRAIN_TORCH_CUDA)
  (void)batch;
  (void)body;
  throw std::runtime_error("this sigtrain was built against a LibTorch without CUDA");
#else
  static_batch_ = Batch{};
  auto dst = graph_inputs(static_batch_);
  const auto src = graph_inputs(batch);
  for (size_t i = 0; i < dst.size(); ++i)
    if (src[i]->defined()) *dst[i] = src[i]->clone();

  // Capture on a side stream (the legacy default stream cannot be captured) that first waits for everything
  // queued so far; afterwards the current stream waits for the capture's stream, as PyTorch's torch.cuda.graph.
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(side);
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    graph->capture_begin();
    try {
      static_loss_ = body(static_batch_);
    } catch (...) {
      // End the capture so the stream is usable again, then report the first error (e.g. a host sync in the body).
      try {
        graph->capture_end();
      } catch (...) {
      }
      throw;
    }
    graph->capture_end();
  }
  at::cuda::CUDAEvent done;
  done.record(side);
  done.block(current);
  graph_ = std::move(graph);
#endif
}

torch::Tensor MicroStepGraph::run(const Batch& batch, const Body& body, bool eligible) {
  ++seen_;
  if (!eligible || seen_ <= warmup_micro_steps_ || (graph_ && !matches(batch))) return body(batch);
  if (!graph_) {
    try {
      capture(batch, body);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("train.cuda_graphs: capturing the micro-step failed (") + e.what() +
                               "); set train.cuda_graphs: off to train without graphs");
    }
    log::info("train.cuda_graphs: captured one micro-step's forward and backward; replaying it from now on");
  } else {
    auto dst = graph_inputs(static_batch_);
    const auto src = graph_inputs(batch);
    for (size_t i = 0; i < dst.size(); ++i)
      if (src[i]->defined()) dst[i]->copy_(*src[i], /*non_blocking=*/true);
  }
  // The capture ran no kernel: the first replay is the captured micro-step itself.
#if defined(SIGTRAIN_TORCH_CUDA)
  graph_->replay();
#endif
  return static_loss_;
}

}  // namespace sigtrain::trainer
