// Host side of the sigmoid-attention API: validation, workspace size, dispatch to the instantiated launchers.
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "sa_dispatch.h"
#include "sigmoid_attention.h"

namespace sigtrain::kernels {
namespace {

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

bool check_tensor(const char* name, const void* ptr, const Strides& s, bool varlen, std::string* why) {
  std::ostringstream os;
  if (ptr == nullptr) os << name << " is null";
  else if (!aligned16(ptr)) os << name << " is not 16-byte aligned";
  else if (s.seq % 8 != 0 || s.head % 8 != 0 || (!varlen && s.batch % 8 != 0))
    os << name << " strides must be multiples of 8 elements (16 bytes); got batch=" << s.batch
       << " seq=" << s.seq << " head=" << s.head;
  if (os.str().empty()) return true;
  if (why) *why = os.str();
  return false;
}

detail::KParams make_kparams(const SigmoidAttentionParams& p) {
  detail::KParams kp{};
  kp.p = p;
  kp.scale = p.scale != 0.f ? p.scale : 1.f / std::sqrt(static_cast<float>(p.head_dim));
  kp.group = p.heads_q / p.heads_kv;
  kp.dq_accum = nullptr;
  kp.dq_tile_count = nullptr;
  return kp;
}

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("sigmoid_attention_") + what + ": CUDA error: " + cudaGetErrorString(e));
}

// Compute capability of the current device, cached per device (the forward asks on every call).
bool current_device_is_sm90() {
  static int cached[64];  // 0 unknown, 1 yes, 2 no
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0) return false;
  if (dev < 64 && cached[dev] != 0) return cached[dev] == 1;
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  const bool yes = major == 9 && minor == 0;
  if (dev < 64) cached[dev] = yes ? 1 : 2;
  return yes;
}

// The tuning switches of the environment (SIGTRAIN_SA_FORWARD / SIGTRAIN_SA_BACKWARD = mma | wgmma, and with
// SIGTRAIN_SA_TUNING_VARIANTS SIGTRAIN_SA_FWD_VARIANT = 0..3 / SIGTRAIN_SA_BWD_VARIANT = 0..9, sa_dispatch.h), read
// once per process: an A/B comparison sets them before the program starts.
struct TuningSwitches {
  const char* forward_kernel = nullptr;   // value of SIGTRAIN_SA_FORWARD, or null
  const char* backward_kernel = nullptr;  // value of SIGTRAIN_SA_BACKWARD, or null
  int fwd_variant = 0;
  int bwd_variant = 0;
};

int variant_of(const char* v) { return (v != nullptr && v[0] >= '0' && v[0] <= '9') ? v[0] - '0' : 0; }

const TuningSwitches& tuning_switches() {
  static const TuningSwitches switches = [] {
    TuningSwitches t;
    t.forward_kernel = std::getenv("SIGTRAIN_SA_FORWARD");
    t.backward_kernel = std::getenv("SIGTRAIN_SA_BACKWARD");
    t.fwd_variant = variant_of(std::getenv("SIGTRAIN_SA_FWD_VARIANT"));
    t.bwd_variant = variant_of(std::getenv("SIGTRAIN_SA_BWD_VARIANT"));
    return t;
  }();
  return switches;
}

// The kernel a call runs (see AttentionKernel); throws when kWgmma is asked for where it cannot run.
// The head dims the Hopper (wgmma) kernels are built for; the others run on mma.sync everywhere.
constexpr bool wgmma_head_dim(int head_dim) { return head_dim == 64 || head_dim == 128; }

AttentionKernel resolve_kernel(AttentionKernel asked, int head_dim, const char* env_name, const char* env,
                               const char* what) {
  if (asked == AttentionKernel::kAuto) {
    if (env != nullptr && std::string(env) == "mma") return AttentionKernel::kMmaSync;
    if (env != nullptr && std::string(env) == "wgmma") asked = AttentionKernel::kWgmma;
    else if (env != nullptr && env[0] != '\0')
      throw std::invalid_argument(std::string(env_name) + "=" + env + ": expected mma or wgmma");
    else
      return sigmoid_attention_wgmma_available() && wgmma_head_dim(head_dim) ? AttentionKernel::kWgmma
                                                                             : AttentionKernel::kMmaSync;
  }
  if (asked == AttentionKernel::kWgmma && !sigmoid_attention_wgmma_available())
    throw std::invalid_argument(std::string(what) +
                                ": the wgmma kernel needs an sm_90 GPU and a build for sm_90a "
                                "(CMAKE_CUDA_ARCHITECTURES containing 90a); use AttentionKernel::kMmaSync or kAuto");
  if (asked == AttentionKernel::kWgmma && !wgmma_head_dim(head_dim))
    throw std::invalid_argument(std::string(what) + ": the wgmma kernel is built for head dims 64 and 128, not " +
                                std::to_string(head_dim) + "; use AttentionKernel::kMmaSync or kAuto (which runs " +
                                "head dim " + std::to_string(head_dim) + " on mma.sync)");
  return asked;
}

template <bool FWD>
void dispatch(const detail::KParams& kp, cudaStream_t stream, bool wgmma = false) {
  const auto& p = kp.p;
  const bool exact = p.sigmoid_mode == SigmoidMode::kExact;
  const bool bf16 = p.dtype == DType::kBF16;
  const int fwd_variant = p.tuning_variant >= 0 ? p.tuning_variant : tuning_switches().fwd_variant;
  const int bwd_variant = p.tuning_variant >= 0 ? p.tuning_variant : tuning_switches().bwd_variant;
  // Head dims without a wgmma instantiation compile the mma.sync call only (resolve_kernel never asks for wgmma
  // there).
#define SA_CALL(D, T, E)                                                                    \
  do {                                                                                      \
    if constexpr (wgmma_head_dim(D)) {                                                      \
      if (wgmma) {                                                                          \
        if constexpr (FWD) detail::run_fwd_wgmma<D, T, E>(kp, stream, fwd_variant);         \
        else detail::run_bwd_wgmma<D, T, E>(kp, stream, bwd_variant);                       \
        break;                                                                              \
      }                                                                                     \
    }                                                                                       \
    if constexpr (FWD) detail::run_fwd<D, T, E>(kp, stream, fwd_variant);                   \
    else detail::run_bwd<D, T, E>(kp, stream, bwd_variant);                                 \
  } while (0)
#define SA_DT(D)                                                                      \
  if (bf16) { if (exact) SA_CALL(D, __nv_bfloat16, true); else SA_CALL(D, __nv_bfloat16, false); } \
  else { if (exact) SA_CALL(D, __half, true); else SA_CALL(D, __half, false); }
  switch (p.head_dim) {
    case 32: SA_DT(32); break;
    case 64: SA_DT(64); break;
    case 96: SA_DT(96); break;
    case 128: SA_DT(128); break;
    case 256: SA_DT(256); break;
    default: throw std::invalid_argument("sigmoid_attention: unsupported head_dim");
  }
#undef SA_DT
#undef SA_CALL
}

}  // namespace

bool sigmoid_attention_supported(const SigmoidAttentionParams& p, std::string* why_not, bool forward) {
  auto fail = [&](const std::string& m) {
    if (why_not) *why_not = m;
    return false;
  };
  if (p.dtype != DType::kBF16 && p.dtype != DType::kFP16) return fail("dtype must be bf16 or fp16");
  if (p.head_dim != 32 && p.head_dim != 64 && p.head_dim != 96 && p.head_dim != 128 && p.head_dim != 256)
    return fail("head_dim " + std::to_string(p.head_dim) + " not supported (32, 64, 96, 128, 256)");
  if (p.batch < 0 || p.n_q < 0 || p.n_k < 0) return fail("negative batch or sequence length");
  if (p.heads_q <= 0 || p.heads_kv <= 0) return fail("heads_q and heads_kv must be positive");
  if (p.heads_q % p.heads_kv != 0) return fail("heads_kv must divide heads_q");
  if (p.batch > 65535 || p.heads_q > 65535) return fail("batch and heads_q must be <= 65535");
  if (!std::isfinite(p.scale)) return fail("scale is not finite");
  if (p.bias_mode == BiasMode::kPerSequence && p.bias_per_seq == nullptr)
    return fail("bias_mode kPerSequence needs bias_per_seq");
  if (p.key_bias != nullptr && p.key_bias_stride_batch < 0) return fail("negative key_bias_stride_batch");
  if ((p.cu_seqlens_q == nullptr) != (p.cu_seqlens_k == nullptr))
    return fail("cu_seqlens_q and cu_seqlens_k must be given together");
  const bool vq = p.cu_seqlens_q != nullptr, vk = p.cu_seqlens_k != nullptr;
  if (vq && (p.total_q < 0 || p.total_k < 0))
    return fail("with cu_seqlens, total_q and total_k (rows of the packed tensors) must be given; got total_q=" +
                std::to_string(p.total_q) + " total_k=" + std::to_string(p.total_k));
  std::string why;
  if (!check_tensor("q", p.q, p.q_strides, vq, &why) || !check_tensor("k", p.k, p.k_strides, vk, &why) ||
      !check_tensor("v", p.v, p.v_strides, vk, &why))
    return fail(why);
  if (forward) {
    if (!check_tensor("o", p.o, p.o_strides, vq, &why)) return fail(why);
  } else {
    if (!check_tensor("dout", p.dout, p.dout_strides, vq, &why) ||
        !check_tensor("dq", p.dq, p.dq_strides, vq, &why) || !check_tensor("dk", p.dk, p.dk_strides, vk, &why) ||
        !check_tensor("dv", p.dv, p.dv_strides, vk, &why))
      return fail(why);
  }
  return true;
}

bool sigmoid_attention_wgmma_available() {
#ifdef SIGTRAIN_KERNELS_HAVE_SM90A
  return current_device_is_sm90();
#else
  return false;
#endif
}

namespace {
// The workspace: the fp32 dQ accumulator [B * n_q, H_q, D], then the Hopper backward's per-q-tile counters
// [B, H_q, ceil(n_q / 64)] (sa_dq_finish.cuh; its q-tiles have 64 or 128 rows), each part 256-byte aligned.
size_t round_up_256(size_t bytes) { return (bytes + 255) / 256 * 256; }
size_t dq_accum_bytes(const SigmoidAttentionParams& p) {
  return round_up_256(static_cast<size_t>(p.batch) * p.n_q * p.heads_q * p.head_dim * sizeof(float));
}
size_t dq_count_bytes(const SigmoidAttentionParams& p) {
  return round_up_256(static_cast<size_t>(p.batch) * p.heads_q * ((p.n_q + 63) / 64) * sizeof(int));
}
}  // namespace

size_t sigmoid_attention_backward_workspace_bytes(const SigmoidAttentionParams& p) {
  return dq_accum_bytes(p) + dq_count_bytes(p);
}

void sigmoid_attention_forward(const SigmoidAttentionParams& p, Stream stream) {
  std::string why;
  if (!sigmoid_attention_supported(p, &why, true)) throw std::invalid_argument("sigmoid_attention_forward: " + why);
  const bool wgmma = resolve_kernel(p.forward_kernel, p.head_dim, "SIGTRAIN_SA_FORWARD", tuning_switches().forward_kernel,
                                     "sigmoid_attention_forward") ==
                     AttentionKernel::kWgmma;
  if (p.batch == 0 || p.n_q == 0 || p.heads_q == 0) return;
  const detail::KParams kp = make_kparams(p);
  dispatch<true>(kp, stream, wgmma);
  check_launch("forward");
}

void sigmoid_attention_backward(const SigmoidAttentionParams& p, void* workspace, Stream stream) {
  std::string why;
  if (!sigmoid_attention_supported(p, &why, false))
    throw std::invalid_argument("sigmoid_attention_backward: " + why);
  const bool wgmma = resolve_kernel(p.backward_kernel, p.head_dim, "SIGTRAIN_SA_BACKWARD", tuning_switches().backward_kernel,
                                     "sigmoid_attention_backward") ==
                     AttentionKernel::kWgmma;
  if (p.batch == 0 || (p.n_q == 0 && p.n_k == 0)) return;
  const size_t ws = sigmoid_attention_backward_workspace_bytes(p);
  if (ws > 0 && (workspace == nullptr || !aligned16(workspace)))
    throw std::invalid_argument("sigmoid_attention_backward: workspace must be a 16-byte aligned device buffer of "
                                "sigmoid_attention_backward_workspace_bytes() bytes");
  detail::KParams kp = make_kparams(p);
  kp.dq_accum = static_cast<float*>(workspace);
  kp.dq_tile_count = reinterpret_cast<int*>(static_cast<unsigned char*>(workspace) + dq_accum_bytes(p));
  if (ws > 0) {
    const cudaError_t e = cudaMemsetAsync(workspace, 0, ws, stream);
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("sigmoid_attention_backward: memset: ") + cudaGetErrorString(e));
  }
  dispatch<false>(kp, stream, wgmma);
  check_launch("backward");
}

}  // namespace sigtrain::kernels
