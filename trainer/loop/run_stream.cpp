#include "trainer/loop/run_stream.h"

#if defined(SIGTRAIN_TORCH_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <optional>
#endif

#include <stdexcept>

#include "common/log.h"

namespace sigtrain::trainer {

#if defined(SIGTRAIN_TORCH_CUDA)
struct RunStream::State {
  c10::cuda::CUDAStream previous = c10::cuda::getCurrentCUDAStream();
  c10::cuda::CUDAStream own = c10::cuda::getStreamFromPool();
  std::optional<c10::cuda::CUDAStreamGuard> current;  // makes `own` current; restores `previous` when reset
};

RunStream::RunStream() : state_(std::make_unique<State>()) {
  at::cuda::CUDAEvent queued_before;
  queued_before.record(state_->previous);
  queued_before.block(state_->own);
  state_->current.emplace(state_->own);
}

RunStream::~RunStream() {
  try {
    at::cuda::CUDAEvent queued_here;
    queued_here.record(state_->own);
    queued_here.block(state_->previous);
  } catch (const std::exception& e) {  // a sticky CUDA error already failed the run: say so, do not throw again
    log::warn(std::string("leaving the training stream: ") + e.what());
  }
  state_->current.reset();
}
#else
struct RunStream::State {};
RunStream::RunStream() {
  throw std::runtime_error("RunStream: this sigtrain was built against a LibTorch without CUDA");
}
RunStream::~RunStream() = default;
#endif

}  // namespace sigtrain::trainer
