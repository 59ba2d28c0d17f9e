// cuBLASLt GEMMs with the MLP's epilogues (kernels/gemm_epilogue.h).
#include "gemm_epilogue.h"

#include <cublasLt.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

namespace sigtrain::kernels {
namespace {

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("epilogue_gemm: ") + what + " failed: " + cublasLtGetStatusName(status) +
                             " (" + cublasLtGetStatusString(status) + ")");
}

cudaDataType_t cuda_type(ElementType t) {
  switch (t) {
    case ElementType::kFP32: return CUDA_R_32F;
    case ElementType::kBF16: return CUDA_R_16BF;
    case ElementType::kFP16: return CUDA_R_16F;
  }
  throw std::logic_error("epilogue_gemm: unknown dtype");
}

cublasLtEpilogue_t lt_epilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kNone: return CUBLASLT_EPILOGUE_DEFAULT;
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kGeluAux: return CUBLASLT_EPILOGUE_GELU_AUX;
    case GemmEpilogue::kGeluAuxBias: return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  }
  throw std::logic_error("epilogue_gemm: unknown epilogue");
}

bool has_aux(GemmEpilogue e) {
  return e == GemmEpilogue::kGeluAux || e == GemmEpilogue::kGeluAuxBias;
}
bool has_bias(GemmEpilogue e) {
  return e == GemmEpilogue::kBias || e == GemmEpilogue::kGeluAuxBias;
}

// The 16-byte alignment of each pointer decides which algorithms qualify, so it is part of the cache key.
int alignment_bits(const EpilogueGemm& g) {
  auto al = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0 ? 1 : 0; };
  return al(g.a) | al(g.b) << 1 | al(g.d) << 2 | al(g.bias) << 3 | al(g.aux) << 4;
}

using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool, int, int, int64_t, int64_t, int64_t, int, int64_t, int,
                       LtHandle>;

Key key_of(const EpilogueGemm& g, LtHandle handle) {
  return {g.m,   g.n,   g.k, g.trans_a, g.trans_b, static_cast<int>(g.ab_dtype), static_cast<int>(g.d_dtype), g.lda,
          g.ldb, g.ldd, static_cast<int>(g.epilogue), g.ldaux, alignment_bits(g), handle};
}

// Heuristic answers per problem: the first call of each shape asks cuBLASLt (tens of µs on the host), every later
// one reuses it; nullopt records "no algorithm".
std::mutex cache_mutex;
std::map<Key, std::optional<cublasLtMatmulAlgo_t>>& algo_cache() {
  static std::map<Key, std::optional<cublasLtMatmulAlgo_t>> cache;
  return cache;
}

template <class T, cublasStatus_t (*Destroy)(T)>
struct LtDeleter {
  void operator()(T p) const { Destroy(p); }
};
using MatmulDesc = std::unique_ptr<cublasLtMatmulDescOpaque_t, LtDeleter<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>>;
using Layout = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LtDeleter<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>>;
using Preference =
    std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, LtDeleter<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>>;

Layout make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld) {
  cublasLtMatrixLayout_t l = nullptr;
  check(cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld),
        "cublasLtMatrixLayoutCreate");
  return Layout(l);
}

template <class T>
void set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& value, const char* what) {
  check(cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof(value)), what);
}

}  // namespace

bool epilogue_gemm(const EpilogueGemm& g, LtHandle handle, void* workspace, size_t workspace_bytes, Stream stream) {
  if (has_aux(g.epilogue) && (g.aux == nullptr || g.ldaux % 8 != 0 || g.ldaux < g.m || g.d_dtype != g.ab_dtype))
    throw std::invalid_argument("epilogue_gemm: a GELU epilogue needs aux with ldaux % 8 == 0, ldaux >= m, D in A's dtype");
  if (has_bias(g.epilogue) && g.bias == nullptr) throw std::invalid_argument("epilogue_gemm: the epilogue needs bias");

  cublasLtMatmulDesc_t raw_desc = nullptr;
  check(cublasLtMatmulDescCreate(&raw_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const MatmulDesc desc(raw_desc);
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  set(raw_desc, CUBLASLT_MATMUL_DESC_TRANSA, op_a, "TRANSA");
  set(raw_desc, CUBLASLT_MATMUL_DESC_TRANSB, op_b, "TRANSB");
  set(raw_desc, CUBLASLT_MATMUL_DESC_EPILOGUE, lt_epilogue(g.epilogue), "EPILOGUE");
  if (has_bias(g.epilogue)) set(raw_desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias, "BIAS_POINTER");
  if (has_aux(g.epilogue)) {
    set(raw_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, g.aux, "EPILOGUE_AUX_POINTER");
    set(raw_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, g.ldaux, "EPILOGUE_AUX_LD");
  }
  const cudaDataType_t ab = cuda_type(g.ab_dtype), dt = cuda_type(g.d_dtype);
  const Layout la = g.trans_a ? make_layout(ab, g.k, g.m, g.lda) : make_layout(ab, g.m, g.k, g.lda);
  const Layout lb = g.trans_b ? make_layout(ab, g.n, g.k, g.ldb) : make_layout(ab, g.k, g.n, g.ldb);
  const Layout ld = make_layout(dt, g.m, g.n, g.ldd);

  std::optional<cublasLtMatmulAlgo_t> algo;
  const Key key = key_of(g, handle);
  {
    const std::lock_guard lock(cache_mutex);
    auto it = algo_cache().find(key);
    if (it != algo_cache().end()) {
      algo = it->second;
    } else {
      cublasLtMatmulPreference_t raw_pref = nullptr;
      check(cublasLtMatmulPreferenceCreate(&raw_pref), "cublasLtMatmulPreferenceCreate");
      const Preference pref(raw_pref);
      const uint64_t max_workspace = workspace_bytes;
      check(cublasLtMatmulPreferenceSetAttribute(raw_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace,
                                                 sizeof(max_workspace)),
            "PREF_MAX_WORKSPACE_BYTES");
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle, raw_desc, la.get(), lb.get(), ld.get(),
                                                                    ld.get(), raw_pref, 1, &result, &found);
      // Any refusal (NOT_SUPPORTED, or INVALID_VALUE for a combination this cuBLASLt does not know) means "no
      // algorithm": the caller has another way.
      if (status == CUBLAS_STATUS_SUCCESS && found > 0) algo = result.algo;
      algo_cache().emplace(key, algo);
    }
  }
  if (!algo) return false;

  const float alpha = 1.f, beta = 0.f;
  check(cublasLtMatmul(handle, raw_desc, &alpha, g.a, la.get(), g.b, lb.get(), &beta, g.d, ld.get(), g.d, ld.get(),
                       &*algo, workspace, workspace_bytes, reinterpret_cast<cudaStream_t>(stream)),
        "cublasLtMatmul");
  return true;
}

}  // namespace sigtrain::kernels
