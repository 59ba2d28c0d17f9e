#include "trainer/distributed/grad_sync.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

namespace sigtrain::trainer {
namespace {

// Runs after AccumulateGrad has added this backward's gradient into param.grad (a view into its bucket).
struct GradReadyHook : torch::autograd::PostAccumulateGradHook {
  GradReadyHook(GradSync* owner, size_t index) : owner(owner), index(index) {}
  void operator()(const torch::autograd::Variable& /*param*/) override { owner->on_gradient_ready(index); }
  GradSync* owner;
  size_t index;
};

}  // namespace

GradSync::GradSync(const std::vector<torch::Tensor>& params, DistributedContext& dist, double bucket_mb,
                   bool overlap)
    : params_(params), dist_(dist), overlap_(overlap) {
  const int64_t cap_bytes = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024 * 1024));
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);

  // Reverse registration order ~ the order backward finishes gradients (the output layers first).
  std::vector<std::vector<size_t>> groups;
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    if (!p.is_contiguous())
      throw std::runtime_error("GradSync: parameter " + std::to_string(k) + " is not contiguous");
    const int64_t nbytes = p.numel() * static_cast<int64_t>(p.element_size());
    // A parameter larger than the cap gets a bucket of its own; a bucket never mixes dtypes.
    const bool new_bucket = groups.empty() || (bytes > 0 && bytes + nbytes > cap_bytes) ||
                            params_[groups.back().front()].scalar_type() != p.scalar_type();
    if (new_bucket) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(k);
    bytes += nbytes;
  }
  for (auto& members : groups) {
    Bucket b;
    int64_t numel = 0;
    for (size_t k : members) {
      bucket_of_[k] = buckets_.size();
      offset_of_[k] = numel;
      numel += params_[k].numel();
    }
    b.flat = torch::zeros({numel}, params_[members.front()].options().requires_grad(false));
    b.members = std::move(members);
    buckets_.push_back(std::move(b));
  }
  attach_views();
  for (size_t k = 0; k < params_.size(); ++k)
    torch::autograd::impl::set_post_acc_grad_hooks(params_[k], std::make_unique<GradReadyHook>(this, k));
}

GradSync::~GradSync() {
  for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradSync::attach_views() {
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < params_.size(); ++k) {
    auto& p = params_[k];
    torch::Tensor view = buckets_[bucket_of_[k]].flat.narrow(0, offset_of_[k], p.numel()).view(p.sizes());
    if (p.grad().defined() && p.grad().data_ptr() != view.data_ptr()) view.copy_(p.grad());
    p.mutable_grad() = view;
  }
}

void GradSync::zero_grad() {
  for (auto& b : buckets_) b.flat.zero_();
  // Something may have replaced a grad (e.g. optimizer.zero_grad(set_to_none)); re-attach so the views hold.
  for (size_t k = 0; k < params_.size(); ++k) {
    const auto& g = params_[k].grad();
    const auto& flat = buckets_[bucket_of_[k]].flat;
    if (!g.defined() || g.data_ptr() != static_cast<char*>(flat.data_ptr()) + offset_of_[k] * flat.element_size()) {
      attach_views();
      break;
    }
  }
}

void GradSync::begin_micro_step(bool last) {
  armed_ = last;
  if (!last) return;
  next_launch_ = 0;
  for (auto& b : buckets_) {
    b.pending = b.members.size();
    b.launched = false;
    b.wait = nullptr;
  }
}

void GradSync::on_gradient_ready(size_t index) {
  if (!armed_) return;  // non-final micro-step: gradients only accumulate locally
  Bucket& b = buckets_[bucket_of_[index]];
  if (b.pending > 0) --b.pending;
  if (overlap_) launch_ready_buckets();
}

void GradSync::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradSync::launch(Bucket& b) {
  // Average = sum of (grad / world). Dividing first keeps one code path for NCCL and Gloo (Gloo has no AVG) and is
  // exact for power-of-two world sizes. Runs on the stream backward uses, so it is ordered before the collective.
  b.flat.div_(static_cast<double>(dist_.world_size()));
  b.wait = dist_.all_reduce_sum_async(b.flat);
  b.launched = true;
}

void GradSync::finish() {
  if (!armed_) throw std::logic_error("GradSync::finish() without begin_micro_step(/*last=*/true)");
  // Buckets not launched yet: overlap off, or members that got no gradient this step (their grads stay zero).
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);
  for (auto& b : buckets_) {
    b.wait();
    b.wait = nullptr;
  }
  armed_ = false;
}

void GradSync::broadcast_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    for (size_t k : b.members) b.flat.narrow(0, offset_of_[k], params_[k].numel()).copy_(params_[k].view({-1}));
    dist_.broadcast(b.flat, 0);
    for (size_t k : b.members) params_[k].view({-1}).copy_(b.flat.narrow(0, offset_of_[k], params_[k].numel()));
    b.flat.zero_();
  }
}

std::string GradSync::describe() const {
  int64_t total = 0;
  for (const auto& b : buckets_) total += b.flat.numel() * static_cast<int64_t>(b.flat.element_size());
  std::ostringstream os;
  os << buckets_.size() << " gradient bucket(s), " << params_.size() << " parameters, "
     << static_cast<double>(total) / (1024.0 * 1024.0) << " MiB, all-reduce "
     << (overlap_ ? "overlapped with backward" : "after backward");
  return os.str();
}

}  // namespace sigtrain::trainer
