// The fused RoPE's autograd function around kernels/rope_kernel.h (models/rope_fused.h). Built with the kernels.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <optional>

#include "models/kernel_element_type.h"
#include "models/rope_fused.h"
#include "rope_kernel.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// y = rotate(x) (or its inverse), y contiguous in x's dtype.
at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool inverse) {
  at::Tensor y = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  K::RopeParams p;
  p.dtype = *kernel_element_type(x.scalar_type());
  p.batch = x.size(0);
  p.seq = x.size(1);
  p.heads = x.size(2);
  p.head_dim = x.size(3);
  p.x = x.data_ptr();
  p.stride_b = x.stride(0);
  p.stride_t = x.stride(1);
  p.stride_h = x.stride(2);
  p.y = y.data_ptr();
  p.cos = cos.data_ptr<float>();
  p.sin = sin.data_ptr<float>();
  p.inverse = inverse;
  K::rope_apply(p, at::cuda::getCurrentCUDAStream());
  return y;
}

struct FusedRope : public torch::autograd::Function<FusedRope> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    const c10::cuda::CUDAGuard guard(x.device());
    ctx->save_for_backward({cos, sin});
    return rotate(x, cos, sin, /*inverse=*/false);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const c10::cuda::CUDAGuard guard(saved[0].device());
    // The gradient arrives contiguous from the attention backward as a rule; anything else is made so.
    const at::Tensor dy = fused_rope_applicable(grads[0], saved[0], saved[1]) ? grads[0] : grads[0].contiguous();
    return {rotate(dy, saved[0], saved[1], /*inverse=*/true), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_rope_applicable(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (!x.is_cuda() || x.dim() != 4 || !kernel_element_type(x.scalar_type()) || !K::rope_supported(x.size(3))) return false;
  const int64_t vec_bytes = 4 * static_cast<int64_t>(x.element_size());
  if (x.stride(3) != 1 || x.stride(0) % 4 || x.stride(1) % 4 || x.stride(2) % 4 || !aligned_to(x, vec_bytes))
    return false;
  for (const at::Tensor* t : {&cos, &sin})
    if (t->device() != x.device() || t->scalar_type() != at::kFloat || !t->is_contiguous() || t->dim() != 2 ||
        t->size(0) < x.size(1) || t->size(1) != x.size(3) / 2 || !aligned_to(*t, 16))
      return false;
  return true;
}

at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  TORCH_CHECK(fused_rope_applicable(x, cos, sin), "fused rope: input or tables not supported (fused_rope_applicable)");
  return FusedRope::apply(x, cos, sin);
}

}  // namespace sigtrain::models
