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
#include <sstream>
#include <stdexcept>
#include <string>

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

// The shapes a graph depends on: each input's presence, dtype, device, rank and sizes.
ShapeKey shape_key(const Batch& batch) {
  ShapeKey key;
  for (const torch::Tensor* t : graph_inputs(batch)) {
    if (!t->defined()) {
      key.push_back(-1);
      continue;
    }
    key.push_back(static_cast<int64_t>(t->scalar_type()));
    key.push_back(static_cast<int64_t>(t->device().type()));
    key.push_back(t->device().index());
    key.push_back(t->dim());
    for (int64_t s : t->sizes()) key.push_back(s);
  }
  return key;
}

// "[32, 448]": the sizes of the first input a task fills (the one that names a micro-batch's shape in the log).
std::string describe_shape(const Batch& batch) {
  for (const torch::Tensor* t : graph_inputs(batch))
    if (t->defined()) {
      std::ostringstream os;
      os << t->sizes();
      return os.str();
    }
  return "[]";
}

}  // namespace

MicroStepGraph::MicroStepGraph(int64_t max_shapes, int64_t warmup_micro_steps)
    : policy_(warmup_micro_steps, max_shapes) {}

MicroStepGraph::~MicroStepGraph() = default;

MicroStepGraph::Captured MicroStepGraph::capture(const Batch& batch, const Body& body) {
  Captured c;
#if !defined(SIGTRAIN_TORCH_CUDA)
  (void)batch;
  (void)body;
  throw std::runtime_error("this sigtrain was built against a LibTorch without CUDA");
#else
  auto dst = graph_inputs(c.static_batch);
  const auto src = graph_inputs(batch);
  for (size_t i = 0; i < dst.size(); ++i)
    if (src[i]->defined()) *dst[i] = src[i]->clone();

  // Capture on the current stream when it is not the default one (the training loop's own stream, run_stream.h:
  // the captures then share its cuBLAS workspaces). The legacy default stream cannot be captured: then on a side
  // stream that first waits for everything queued so far, the current stream waiting for it afterwards, as PyTorch's
  // torch.cuda.graph. Every graph captures into the one shared pool (micro_step_graph.h says why that is safe in any
  // replay order).
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
  const bool on_current = current != c10::cuda::getDefaultCUDAStream(current.device_index());
  if (!on_current && !capture_stream_) capture_stream_ = c10::cuda::getStreamFromPool().unwrap();
  const c10::cuda::CUDAStream side = on_current ? current : c10::cuda::CUDAStream(*capture_stream_);
  if (!on_current) {
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(side);
  }
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    if (!pool_) pool_ = at::cuda::graph_pool_handle();
    graph->capture_begin(*pool_);
    try {
      c.static_loss = body(c.static_batch);
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
  if (!on_current) {
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(current);
  }
  c.graph = std::move(graph);
#endif
  return c;
}

torch::Tensor MicroStepGraph::run(const Batch& batch, const Body& body, bool eligible) {
  const GraphShapePolicy::Decision d = policy_.next(shape_key(batch), eligible);
  if (policy_.turned_away() && !told_cap_) {
    told_cap_ = true;
    log::info("train.cuda_graphs: " + std::to_string(graphs_.size()) +
              " shapes captured, the most train.cuda_graphs_max_shapes allows; micro-batches of other shapes run "
              "eagerly");
  }
  if (d.action == GraphShapePolicy::Action::kEager) return body(batch);
  if (d.action == GraphShapePolicy::Action::kCapture) {
    try {
      graphs_.push_back(capture(batch, body));
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("train.cuda_graphs: capturing the micro-step failed (") + e.what() +
                               "); set train.cuda_graphs: off to train without graphs");
    }
    log::info("train.cuda_graphs: captured the micro-step of inputs " + describe_shape(batch) + " (graph " +
              std::to_string(graphs_.size()) + " of at most " + std::to_string(policy_.max_shapes()) +
              "); replaying it for that shape from now on");
  } else {
    Captured& c = graphs_.at(d.graph);
    auto dst = graph_inputs(c.static_batch);
    const auto src = graph_inputs(batch);
    for (size_t i = 0; i < dst.size(); ++i)
      if (src[i]->defined()) dst[i]->copy_(*src[i], /*non_blocking=*/true);
  }
  // The capture ran no kernel: the first replay is the captured micro-step itself.
  Captured& c = graphs_.at(d.graph);
#if defined(SIGTRAIN_TORCH_CUDA)
  c.graph->replay();
#endif
  return c.static_loss;
}

}  // namespace sigtrain::trainer
