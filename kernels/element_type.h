// The element types the fused ops' kernels read and write (norms, RoPE, cross-entropy, GEMM epilogues, bias
// gradients), one enum for all of them; each kernel's entry point refuses the ones it does not take. The attention
// kernels keep their own (sigmoid_attention.h: bf16 and fp16 only).
#pragma once

namespace sigtrain::kernels {
enum class ElementType : int { kFP32 = 0, kBF16 = 1, kFP16 = 2 };
}  // namespace sigtrain::kernels
