// The GEMMs of a transformer's linear layers as the fused ops run them (kernels/gemm_epilogue.h), each with
// cuBLASLt's first few candidate algorithms timed: how far the heuristic's first answer (what fused_ops.gemm_algo:
// heuristic runs) is from the fastest (what timed picks). bf16 operands, fp32 accumulation.
//
// For a layer [M, I] → [M, O] (column-major to cuBLASLt, as models/gemm_epilogue_ops.cpp calls it):
//   fwd   y = x Wᵀ + b          D O×M, bias epilogue (fc1: GELU + aux + bias), bf16 out
//   dx    dx = dy W             D I×M, bf16 out
//   dW    dW = dyᵀ x            D I×O, fp32 out
// Layers (GPT-2-small's, d 768): qkv 768→2304, out 768→768, fc1 768→3072, fc2 3072→768.
//
//   gemm_bench [--m 16384] [--d 768] [--ff 3072] [--candidates 8] [--reps 20] [--csv FILE]
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_cuda.h"
#include "gemm_epilogue.h"

using namespace sigtrain::kernels;

namespace {

void* device_bf16(size_t n, uint64_t seed) {
  void* p = nullptr;
  CUDA_OK(cudaMalloc(&p, n * 2));
  bench_fill_normal(p, n, seed);
  return p;
}

struct Layer {
  const char* name;
  int64_t in, out;
  bool gelu;  // fc1: the forward's epilogue is GELU + aux + bias
};

}  // namespace

int main(int argc, char** argv) {
  int64_t m = 16384, d = 768, ff = 3072;
  int candidates = kGemmTimedCandidates, reps = 20;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gemm_bench: missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--m") m = std::stoll(next());
    else if (a == "--d") d = std::stoll(next());
    else if (a == "--ff") ff = std::stoll(next());
    else if (a == "--candidates") candidates = std::stoi(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--csv") csv = next();
    else {
      std::fprintf(stderr,
                   "usage: gemm_bench [--m 16384] [--d 768] [--ff 3072] [--candidates 8] [--reps 20] [--csv FILE]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  cudaDeviceProp prop{};
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  cublasLtHandle_t handle = nullptr;
  if (cublasLtCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gemm_bench: cublasLtCreate failed\n");
    return 1;
  }
  const size_t workspace_bytes = 32u << 20;  // LibTorch's cuBLASLt workspace on Hopper
  void* workspace = nullptr;
  CUDA_OK(cudaMalloc(&workspace, workspace_bytes));
  cudaStream_t stream = nullptr;
  CUDA_OK(cudaStreamCreate(&stream));

  const std::vector<Layer> layers = {{"qkv", d, 3 * d, false}, {"out", d, d, false}, {"fc1", d, ff, true},
                                     {"fc2", ff, d, false}};
  FILE* out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (out) std::fprintf(out, "layer,gemm,m,n,k,candidate,description,waves,ms,tflops\n");
  std::printf("# gemm_bench on %s (%d SMs), cuBLASLt %zu, M %lld; candidate 0 is the heuristic's first answer\n",
              prop.name, prop.multiProcessorCount, cublasLtGetVersion(), static_cast<long long>(m));
  std::printf("| layer | GEMM | m×n×k | heuristic ms | TFLOP/s | fastest ms | TFLOP/s | fastest is | gain µs |\n");
  std::printf("|---|---|---|---:|---:|---:|---:|---|---:|\n");
  for (const Layer& L : layers) {
    void* x = device_bf16(m * L.in, 1);
    void* w = device_bf16(L.out * L.in, 2);
    void* dy = device_bf16(m * L.out, 3);
    void* bias = device_bf16(L.out, 4);
    void *y = nullptr, *aux = nullptr, *dx = nullptr, *dw = nullptr;
    CUDA_OK(cudaMalloc(&y, m * L.out * 2));
    CUDA_OK(cudaMalloc(&aux, m * L.out * 2));
    CUDA_OK(cudaMalloc(&dx, m * L.in * 2));
    CUDA_OK(cudaMalloc(&dw, L.out * L.in * 4));
    CUDA_OK(cudaDeviceSynchronize());

    struct Named {
      const char* name;
      EpilogueGemm g;
    };
    std::vector<Named> gemms(3);
    EpilogueGemm& f = gemms[0].g;  // D O×M = op(W I×O, T) · (x I×M)
    gemms[0].name = "fwd";
    f.m = L.out, f.n = m, f.k = L.in, f.trans_a = true, f.a = w, f.lda = L.in, f.b = x, f.ldb = L.in, f.d = y,
    f.ldd = L.out, f.bias = bias;
    f.epilogue = L.gelu ? GemmEpilogue::kGeluAuxBias : GemmEpilogue::kBias;
    if (L.gelu) f.aux = aux, f.ldaux = L.out;
    EpilogueGemm& b = gemms[1].g;  // D I×M = (W I×O) · (dy O×M)
    gemms[1].name = "dx";
    b.m = L.in, b.n = m, b.k = L.out, b.a = w, b.lda = L.in, b.b = dy, b.ldb = L.out, b.d = dx, b.ldd = L.in;
    EpilogueGemm& g = gemms[2].g;  // D I×O = (x I×M) · op(dy O×M, T), fp32
    gemms[2].name = "dW";
    g.m = L.in, g.n = L.out, g.k = m, g.trans_b = true, g.a = x, g.lda = L.in, g.b = dy, g.ldb = L.out, g.d = dw,
    g.ldd = L.in, g.d_dtype = ElementType::kFP32;

    for (const Named& n : gemms) {
      const double flops = 2.0 * static_cast<double>(n.g.m) * static_cast<double>(n.g.n) * static_cast<double>(n.g.k);
      const auto cands = time_gemm_candidates(n.g, handle, workspace, workspace_bytes, stream, candidates, reps);
      if (cands.empty()) {
        std::printf("| %s | %s | — | no algorithm | | | | | |\n", L.name, n.name);
        continue;
      }
      size_t best = 0;
      for (size_t i = 0; i < cands.size(); ++i) {
        const auto& c = cands[i];
        if (c.ms > 0 && (cands[best].ms < 0 || c.ms < cands[best].ms)) best = i;
        if (out)
          std::fprintf(out, "%s,%s,%lld,%lld,%lld,%zu,%s,%.2f,%.4f,%.1f\n", L.name, n.name,
                       static_cast<long long>(n.g.m), static_cast<long long>(n.g.n), static_cast<long long>(n.g.k), i,
                       c.description.c_str(), c.waves, c.ms, c.ms > 0 ? flops / c.ms / 1e9 : 0.0);
      }
      const float h = cands[0].ms, fb = cands[best].ms;
      std::printf("| %s | %s | %lld×%lld×%lld | %.4f | %.0f | %.4f | %.0f | #%zu %s (waves %.2f; first: %s, waves %.2f) "
                  "| %.1f |\n",
                  L.name, n.name, static_cast<long long>(n.g.m), static_cast<long long>(n.g.n),
                  static_cast<long long>(n.g.k), h, h > 0 ? flops / h / 1e9 : 0.0, fb, fb > 0 ? flops / fb / 1e9 : 0.0,
                  best, cands[best].description.c_str(), cands[best].waves, cands[0].description.c_str(),
                  cands[0].waves, h > 0 && fb > 0 ? 1000.0 * (h - fb) : 0.0);
      std::fflush(stdout);
    }
    for (void* p : {x, w, dy, bias, y, aux, dx, dw}) CUDA_OK(cudaFree(p));
  }
  if (out) std::fclose(out);
  CUDA_OK(cudaFree(workspace));
  cublasLtDestroy(handle);
  return 0;
}
