#pragma once
// Data-parallel gradient averaging in buckets, overlapped with backward (what PyTorch's DDP Reducer does, in ~200
// lines we own).
//
// Buckets. Parameters are grouped, in reverse registration order (roughly the order backward produces their
// gradients), into buckets of about dist.bucket_mb, one dtype per bucket. Each bucket owns one flat contiguous
// buffer, and every parameter's .grad is a view into it ("gradient as bucket view"): autograd accumulates straight
// into the buffer (AccumulateGrad adds in place into an existing dense grad), so there is no copy in or out and no
// per-parameter collective: one all-reduce per bucket.
//
// Overlap. A post-accumulate-grad hook on every parameter (torch::autograd::impl::set_post_acc_grad_hooks, the C++
// side of Python's Tensor.register_post_accumulate_grad_hook) counts the parameters whose gradient is final. On the
// last micro-step of gradient accumulation only (earlier micro-steps just accumulate locally), a bucket whose count
// reaches its size is averaged (divided by the world size) and its all-reduce launched asynchronously while
// backward goes on computing earlier layers. Buckets are launched strictly in bucket order, so every rank issues
// the same collectives in the same order even if hooks fire in a different order. finish() launches what is left
// (parameters that got no gradient keep zeros) and waits for all before the optimizer reads the gradients.
// With dist.overlap=false all buckets are launched after backward (for comparison).
#include <torch/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "trainer/distributed/distributed.h"

namespace sigtrain::trainer {

class GradSync {
 public:
  // `params` in registration order; each must be contiguous and have requires_grad. Installs the bucket views and
  // the hooks; `dist` must outlive this object.
  GradSync(const std::vector<torch::Tensor>& params, DistributedContext& dist, double bucket_mb, bool overlap);
  ~GradSync();  // removes the hooks (the grads stay valid tensors)
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Use instead of optimizer.zero_grad(): zeroes the bucket buffers so the views stay attached.
  void zero_grad();
  // Call before each micro-step's backward; `last` arms the hooks (only the last micro-step communicates).
  void begin_micro_step(bool last);
  // After the last backward: launches the remaining buckets and waits for all; grads then hold the mean over ranks.
  void finish();

  // Copies rank 0's parameter values to every rank (one broadcast per bucket, through the bucket buffers).
  void broadcast_parameters();

  size_t num_buckets() const { return buckets_.size(); }
  std::string describe() const;

  // Called by the hook of parameter `index` once its gradient is accumulated.
  void on_gradient_ready(size_t index);

 private:
  struct Bucket {
    torch::Tensor flat;            // the gradients of `members`, back to back
    std::vector<size_t> members;   // parameter indices
    size_t pending = 0;            // members whose gradient is not final yet (last micro-step)
    bool launched = false;
    WaitHandle wait;
  };
  void attach_views();
  void launch_ready_buckets();
  void launch(Bucket& b);

  std::vector<torch::Tensor> params_;
  std::vector<size_t> bucket_of_;   // parameter index -> bucket
  std::vector<int64_t> offset_of_;  // parameter index -> element offset in its bucket
  std::vector<Bucket> buckets_;
  DistributedContext& dist_;
  bool overlap_;
  bool armed_ = false;
  size_t next_launch_ = 0;          // buckets launch in order: 0, 1, 2, ...
};

}  // namespace sigtrain::trainer
