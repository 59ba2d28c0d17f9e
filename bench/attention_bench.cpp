// Benchmark of the fused sigmoid-attention kernels on the seed workload (bf16, B = 16384/N, H = 2048/D), next to
// LibTorch's softmax SDPA backends (flash, cuDNN, memory-efficient) when built with a CUDA LibTorch
// (SIGTRAIN_BENCH_WITH_TORCH).
//
// FLOPs (FlashAttention convention): forward 4 * H * D * sum_b L_b^2 (halved when causal), backward 2.5x forward.
// Timing: CUDA events around each call, warm-up first, median over repeats; inputs random normal.
//
//   attention_bench [--d 64,128] [--n 1024,4096] [--pad 0,25,50] [--causal 0|1|both] [--dir fwd|bwd|both]
//                   [--reps 20] [--warmup 5] [--quick] [--no-torch] [--variants] [--csv FILE]
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_cuda.h"
#include "sigmoid_attention.h"

#ifdef SIGTRAIN_BENCH_WITH_TORCH
#include <ATen/Context.h>
#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>
#endif

using namespace sigtrain::kernels;

namespace {

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string t;
  while (std::getline(ss, t, ',')) v.push_back(std::stoi(t));
  return v;
}

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median milliseconds of fn() over reps, after warmup calls.
double time_ms(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  CUDA_OK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CUDA_OK(cudaEventRecord(a));
    fn();
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CUDA_OK(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

struct Opts {
  std::vector<int> d{64, 128}, n{1024, 2048, 4096, 8192, 16384}, pad{0, 25, 50};
  std::vector<int> causal{0, 1};
  bool fwd = true, bwd = true, torch_cols = true, variants = false;
  int reps = 20, warmup = 5;
  std::string csv;
};

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--d") o.d = parse_list(next());
    else if (a == "--n") o.n = parse_list(next());
    else if (a == "--pad") o.pad = parse_list(next());
    else if (a == "--causal") {
      const std::string v = next();
      o.causal = v == "both" ? std::vector<int>{0, 1} : parse_list(v);  // 0, 1, "0,1" or both
    } else if (a == "--dir") {
      const std::string v = next();
      o.fwd = v != "bwd";
      o.bwd = v != "fwd";
    } else if (a == "--reps") o.reps = std::stoi(next());
    else if (a == "--warmup") o.warmup = std::stoi(next());
    else if (a == "--quick") {
      o.n = {1024, 4096, 16384};
      o.pad = {0};
      o.reps = 7;
      o.warmup = 2;
    } else if (a == "--no-torch") o.torch_cols = false;
    else if (a == "--variants") o.variants = true;
    else if (a == "--csv") o.csv = next();
    else if (a == "-h" || a == "--help") {
      std::printf(
          "attention_bench [--d 64,128] [--n 1024,...] [--pad 0,25,50] [--causal 0|1|both] [--dir fwd|bwd|both]\n"
          "                [--reps N] [--warmup N] [--quick] [--no-torch] [--variants] [--csv FILE]\n");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
#ifndef SIGTRAIN_BENCH_WITH_TORCH
  o.torch_cols = false;
#endif
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    std::fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  std::printf("# device: %s, %d SMs; bf16; B=16384/N, H=2048/D; FLOPs: fwd 4*H*D*sum(L^2) (/2 causal), bwd 2.5x\n",
              prop.name, prop.multiProcessorCount);
  std::printf("# TFLOP/s, median of %d after %d warm-up\n", o.reps, o.warmup);
  FILE* csv = o.csv.empty() ? nullptr : std::fopen(o.csv.c_str(), "w");
  if (csv) std::fprintf(csv, "D,N,B,H,pad,causal,variant,ours_fwd_ms,ours_fwd_tf,ours_bwd_ms,ours_bwd_tf,"
                             "flash_fwd_tf,flash_bwd_tf,cudnn_fwd_tf,cudnn_bwd_tf,eff_fwd_tf,eff_bwd_tf,"
                             "mma_sync_fwd_tf,mma_sync_bwd_tf\n");
  if (o.variants)  // what each row's variant is (kernels/sa_dispatch.h; docs/kernel-notebook.md v7-v18)
    std::printf("variants (a tuning build; otherwise every row is variant 0):\n"
                "  forward, Hopper: 0 production, 1 BN 64 x 3 consumer warpgroups, 2 BN 128 x 3, 3 ping-pong (v18)\n"
                "  backward, Hopper: 0 production, 1 k-tiles per CTA swapped, 2 dQ one tile later (v14), 3 dQ "
                "converted at the CTA's end (v13), 8 dQ through the idle producer warps (v17); TIMING ONLY, wrong "
                "results: 4 no dQ atomics, 5 no sigma/dS, 6 no warpgroup meeting, 7 no dQ conversion kernel, 9 no "
                "masked-tile path\n"
                "  mma.sync columns: variants 0 and 1 only\n");
  std::printf("%4s %6s %4s %4s %4s %6s %3s | %9s %9s | %11s %11s %11s\n", "D", "N", "B", "H", "pad", "causal",
              "var", "ours fwd", "ours bwd", "flash f/b", "cudnn f/b", "effic f/b");

  std::mt19937 rng(1234);
  // --variants: forward variants 0..3, backward 0..9 on Hopper, 0..1 on mma.sync (see kernels/sa_dispatch.h;
  // needs a build with -DSIGTRAIN_KERNELS_TUNING_VARIANTS=ON, otherwise every variant runs variant 0); -1 = library
  // default. Backward variants 4..7 and 9 are timing-only (wrong results): each leaves one stage of variant 0 out, and
  // a line after them says what each stage costs (the difference to variant 0).
  const std::vector<int> variants = o.variants ? std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} : std::vector<int>{-1};
  for (int D : o.d)
    for (int N : o.n) {
      const int B = std::max(1, 16384 / N), H = std::max(1, 2048 / D);
      const size_t n = static_cast<size_t>(B) * N * H * D;
      __nv_bfloat16 *q, *k, *v, *out, *dout, *dq, *dk, *dv;
      for (auto** p : {&q, &k, &v, &out, &dout, &dq, &dk, &dv}) CUDA_OK(cudaMalloc(p, n * 2));
      uint64_t seed = 42;
      for (auto* p : {q, k, v, dout}) bench_fill_normal(p, n, seed++);
      int32_t* d_lens;
      CUDA_OK(cudaMalloc(&d_lens, B * sizeof(int32_t)));
      SigmoidAttentionParams p;
      p.dtype = DType::kBF16;
      p.batch = B; p.n_q = N; p.n_k = N; p.heads_q = H; p.heads_kv = H; p.head_dim = D;
      const Strides st{static_cast<int64_t>(N) * H * D, static_cast<int64_t>(H) * D, D};
      p.q = q; p.k = k; p.v = v; p.o = out; p.dout = dout; p.dq = dq; p.dk = dk; p.dv = dv;
      p.q_strides = p.k_strides = p.v_strides = p.o_strides = p.dout_strides = p.dq_strides = p.dk_strides =
          p.dv_strides = st;
      p.bias_mode = BiasMode::kNegLogValidKeys;
      void* ws = nullptr;
      CUDA_OK(cudaMalloc(&ws, sigmoid_attention_backward_workspace_bytes(p)));

      for (int pad : o.pad)
        for (int causal : o.causal) {
          std::vector<int32_t> lens(B, N);
          if (pad > 0) {
            std::uniform_int_distribution<int> u(static_cast<int>(std::ceil((1.0 - pad / 100.0) * N)), N);
            for (auto& L : lens) L = u(rng);
          }
          CUDA_OK(cudaMemcpy(d_lens, lens.data(), B * 4, cudaMemcpyHostToDevice));
          p.seq_lens_q = pad > 0 ? d_lens : nullptr;
          p.seq_lens_k = pad > 0 ? d_lens : nullptr;
          p.causal = causal != 0;
          double sum_l2 = 0;
          for (int L : lens) sum_l2 += static_cast<double>(L) * L;
          const double fwd_flops = 4.0 * H * D * sum_l2 * (causal ? 0.5 : 1.0), bwd_flops = 2.5 * fwd_flops;

          double torch_tf[3][2] = {{0, 0}, {0, 0}, {0, 0}};
#ifdef SIGTRAIN_BENCH_WITH_TORCH
          if (o.torch_cols && pad == 0) {
            auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
            // [B, N, H, D] memory viewed as [B, H, N, D]
            auto tq = torch::from_blob(q, {B, N, H, D}, opts).transpose(1, 2).detach().requires_grad_(true);
            auto tk = torch::from_blob(k, {B, N, H, D}, opts).transpose(1, 2).detach().requires_grad_(true);
            auto tv = torch::from_blob(v, {B, N, H, D}, opts).transpose(1, 2).detach().requires_grad_(true);
            auto tdo = torch::from_blob(dout, {B, N, H, D}, opts).transpose(1, 2);
            auto& ctx = at::globalContext();
            for (int be = 0; be < 3; ++be) {
              ctx.setSDPUseFlash(be == 0);
              ctx.setSDPUseCuDNN(be == 1);
              ctx.setSDPUseMemEfficient(be == 2);
              ctx.setSDPUseMath(false);
              try {
                torch::Tensor ot;
                const double tf = time_ms(
                    [&] {
                      torch::NoGradGuard ng;
                      ot = at::scaled_dot_product_attention(tq, tk, tv, {}, 0.0, causal != 0);
                    },
                    o.warmup, o.reps);
                torch_tf[be][0] = fwd_flops / (tf * 1e-3) / 1e12;
                auto oo = at::scaled_dot_product_attention(tq, tk, tv, {}, 0.0, causal != 0);
                const double tb = time_ms(
                    [&] { torch::autograd::grad({oo}, {tq, tk, tv}, {tdo}, /*retain_graph=*/true); }, o.warmup,
                    o.reps);
                torch_tf[be][1] = bwd_flops / (tb * 1e-3) / 1e12;
              } catch (const std::exception& e) {
                torch_tf[be][0] = torch_tf[be][1] = -1;
              }
            }
            ctx.setSDPUseFlash(true);
            ctx.setSDPUseCuDNN(true);
            ctx.setSDPUseMemEfficient(true);
            ctx.setSDPUseMath(true);
          }
#endif
          std::vector<double> bwd_ms_of_variant(variants.size(), 0.0);
          for (size_t vi = 0; vi < variants.size(); ++vi) {
            const int var = variants[vi];
            p.tuning_variant = var;  // -1: the build's default tiles
            double tf_ms = 0, tb_ms = 0;
            const bool do_bwd = o.bwd, do_fwd = o.fwd && var < 4;
            if (do_fwd) tf_ms = time_ms([&] { sigmoid_attention_forward(p, nullptr); }, o.warmup, o.reps);
            if (do_bwd) tb_ms = time_ms([&] { sigmoid_attention_backward(p, ws, nullptr); }, o.warmup, o.reps);
            const double f_tf = tf_ms > 0 ? fwd_flops / (tf_ms * 1e-3) / 1e12 : 0;
            bwd_ms_of_variant[vi] = tb_ms;
            // On Hopper the default kernels are the wgmma ones; time the mma.sync ones beside them (for their own
            // variants 0 and 1 only: the higher ones are the Hopper backward's).
            double f_mma_tf = 0, b_mma_tf = 0;
            if (sigmoid_attention_wgmma_available() && var < 2) {
              SigmoidAttentionParams pm = p;
              pm.forward_kernel = pm.backward_kernel = AttentionKernel::kMmaSync;
              if (do_fwd)
                f_mma_tf = fwd_flops / (time_ms([&] { sigmoid_attention_forward(pm, nullptr); }, o.warmup, o.reps) *
                                        1e-3) / 1e12;
              if (do_bwd)
                b_mma_tf = bwd_flops / (time_ms([&] { sigmoid_attention_backward(pm, ws, nullptr); }, o.warmup,
                                                o.reps) * 1e-3) / 1e12;
            }
            const double b_tf = tb_ms > 0 ? bwd_flops / (tb_ms * 1e-3) / 1e12 : 0;
            auto pair = [&](int be) {
              char buf[32];
              if (!o.torch_cols || pad != 0) std::snprintf(buf, sizeof buf, "-");
              else if (torch_tf[be][0] < 0) std::snprintf(buf, sizeof buf, "n/a");
              else std::snprintf(buf, sizeof buf, "%.0f/%.0f", torch_tf[be][0], torch_tf[be][1]);
              return std::string(buf);
            };
            std::printf("%4d %6d %4d %4d %3d%% %6s %3d | %5.1f TF %5.1f TF | %11s %11s %11s   (%.3f / %.3f ms)"
                        "  mma.sync %.1f / %.1f TF\n",
                        D, N, B, H, pad, causal ? "yes" : "no", std::max(var, 0), f_tf, b_tf, pair(0).c_str(),
                        pair(1).c_str(), pair(2).c_str(), tf_ms, tb_ms, f_mma_tf, b_mma_tf);
            std::fflush(stdout);
            if (csv)
              std::fprintf(csv, "%d,%d,%d,%d,%d,%d,%d,%.4f,%.1f,%.4f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n", D,
                           N, B, H, pad, causal, std::max(var, 0), tf_ms, f_tf, tb_ms, b_tf, torch_tf[0][0],
                           torch_tf[0][1], torch_tf[1][0], torch_tf[1][1], torch_tf[2][0], torch_tf[2][1], f_mma_tf,
                           b_mma_tf);
          }
          if (o.variants && o.bwd && sigmoid_attention_wgmma_available()) {
            // Where variant 0's backward time goes: the workspace clear (timed alone here) and the stages that
            // variants 4..7 leave out. Stages overlap, so the parts need not add up to the whole.
            const size_t ws_bytes = sigmoid_attention_backward_workspace_bytes(p);
            const double memset_ms =
                time_ms([&] { CUDA_OK(cudaMemsetAsync(ws, 0, ws_bytes)); }, o.warmup, o.reps);
            const double t0 = bwd_ms_of_variant[0];
            std::printf("     backward %.3f ms; its workspace clear alone %.3f ms; variant 0 minus the variant without "
                        "the stage: dQ atomics %.3f, sigma/dS %.3f, warpgroup meeting %.3f, dQ conversion kernel "
                        "%.3f, masked tiles' per-element path %.3f ms\n",
                        t0, memset_ms, t0 - bwd_ms_of_variant[4], t0 - bwd_ms_of_variant[5],
                        t0 - bwd_ms_of_variant[6], t0 - bwd_ms_of_variant[7], t0 - bwd_ms_of_variant[9]);
            if (csv)
              std::fprintf(csv, "# breakdown D %d N %d causal %d: bwd_ms %.4f memset_ms %.4f skip_atomics_ms %.4f "
                                "skip_pointwise_ms %.4f skip_meeting_ms %.4f skip_convert_ms %.4f "
                                "skip_masking_ms %.4f\n",
                           D, N, causal, t0, memset_ms, bwd_ms_of_variant[4], bwd_ms_of_variant[5],
                           bwd_ms_of_variant[6], bwd_ms_of_variant[7], bwd_ms_of_variant[9]);
          }
          if (o.variants) {
            unsetenv("SIGTRAIN_SA_FWD_VARIANT");
            unsetenv("SIGTRAIN_SA_BWD_VARIANT");
          }
        }
      for (auto* ptr : {q, k, v, out, dout, dq, dk, dv}) cudaFree(ptr);
      cudaFree(d_lens);
      cudaFree(ws);
    }
  if (csv) std::fclose(csv);
  return 0;
}
