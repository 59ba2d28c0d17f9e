// cuBLASLt GEMMs with the MLP's epilogues (kernels/gemm_epilogue.h).
#include "gemm_epilogue.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <array>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

// The 16-byte alignment of each pointer decides which algorithms qualify, so it is part of the problem's key.
int alignment_bits(const EpilogueGemm& g) {
  auto al = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0 ? 1 : 0; };
  return al(g.a) | al(g.b) << 1 | al(g.d) << 2 | al(g.bias) << 3 | al(g.aux) << 4;
}

// A problem: m n k trans_a trans_b ab_dtype d_dtype lda ldb ldd epilogue ldaux alignment, then the device.
constexpr int kKeyFields = 13;
using Key = std::array<int64_t, kKeyFields + 1>;

int current_device() {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) throw std::runtime_error("epilogue_gemm: cudaGetDevice failed");
  return device;
}

Key key_of(const EpilogueGemm& g, int device) {
  return {g.m,   g.n,   g.k,   g.trans_a, g.trans_b, static_cast<int>(g.ab_dtype), static_cast<int>(g.d_dtype),
          g.lda, g.ldb, g.ldd, static_cast<int>(g.epilogue), g.ldaux, alignment_bits(g), device};
}

// One problem's choice; nullopt records "no algorithm". A restored algorithm is checked against its problem
// (cublasLtMatmulAlgoCheck) when first used.
struct Choice {
  std::optional<cublasLtMatmulAlgo_t> algo;
  bool checked = true;
};

std::mutex cache_mutex;  // guards the three below
std::map<Key, Choice>& algo_cache() {
  static std::map<Key, Choice> cache;
  return cache;
}
GemmAlgoChoice choice_mode = GemmAlgoChoice::kHeuristic;

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

// The problem as cuBLASLt describes it.
struct Described {
  MatmulDesc desc;
  Layout a, b, d;
};

Described describe_problem(const EpilogueGemm& g) {
  if (has_aux(g.epilogue) && (g.aux == nullptr || g.ldaux % 8 != 0 || g.ldaux < g.m || g.d_dtype != g.ab_dtype))
    throw std::invalid_argument("epilogue_gemm: a GELU epilogue needs aux with ldaux % 8 == 0, ldaux >= m, D in A's dtype");
  if (has_bias(g.epilogue) && g.bias == nullptr) throw std::invalid_argument("epilogue_gemm: the epilogue needs bias");
  cublasLtMatmulDesc_t raw_desc = nullptr;
  check(cublasLtMatmulDescCreate(&raw_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  Described p{MatmulDesc(raw_desc), nullptr, nullptr, nullptr};
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
  p.a = g.trans_a ? make_layout(ab, g.k, g.m, g.lda) : make_layout(ab, g.m, g.k, g.lda);
  p.b = g.trans_b ? make_layout(ab, g.n, g.k, g.ldb) : make_layout(ab, g.k, g.n, g.ldb);
  p.d = make_layout(dt, g.m, g.n, g.ldd);
  return p;
}

// cuBLASLt's first `count` answers (fewer where it has fewer; none where it refuses the problem: NOT_SUPPORTED,
// or INVALID_VALUE for a combination this cuBLASLt does not know; the caller has another way).
std::vector<cublasLtMatmulHeuristicResult_t> heuristic(const Described& p, LtHandle handle, size_t workspace_bytes,
                                                       int count) {
  cublasLtMatmulPreference_t raw_pref = nullptr;
  check(cublasLtMatmulPreferenceCreate(&raw_pref), "cublasLtMatmulPreferenceCreate");
  const Preference pref(raw_pref);
  const uint64_t max_workspace = workspace_bytes;
  check(cublasLtMatmulPreferenceSetAttribute(raw_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace,
                                             sizeof(max_workspace)),
        "PREF_MAX_WORKSPACE_BYTES");
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(count));
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle, p.desc.get(), p.a.get(), p.b.get(), p.d.get(),
                                                                p.d.get(), pref.get(), count, results.data(), &found);
  if (status != CUBLAS_STATUS_SUCCESS) found = 0;
  results.resize(static_cast<size_t>(found));
  std::erase_if(results, [](const cublasLtMatmulHeuristicResult_t& r) { return r.state != CUBLAS_STATUS_SUCCESS; });
  return results;
}

cublasStatus_t launch(const EpilogueGemm& g, const Described& p, const cublasLtMatmulAlgo_t& algo, LtHandle handle,
                      void* workspace, size_t workspace_bytes, Stream stream) {
  const float alpha = 1.f, beta = 0.f;
  return cublasLtMatmul(handle, p.desc.get(), &alpha, g.a, p.a.get(), g.b, p.b.get(), &beta, g.d, p.d.get(), g.d,
                        p.d.get(), &algo, workspace, workspace_bytes, reinterpret_cast<cudaStream_t>(stream));
}

// Mean ms of `reps` launches after one warm-up (CUDA events; waits for the stream); < 0 where a launch fails.
float time_algo(const EpilogueGemm& g, const Described& p, const cublasLtMatmulAlgo_t& algo, LtHandle handle,
                void* workspace, size_t workspace_bytes, Stream stream, int reps) {
  if (launch(g, p, algo, handle, workspace, workspace_bytes, stream) != CUBLAS_STATUS_SUCCESS) return -1;
  cudaEvent_t start = nullptr, stop = nullptr;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess)
    throw std::runtime_error("epilogue_gemm: cudaEventCreate failed");
  const auto cs = reinterpret_cast<cudaStream_t>(stream);
  bool ok = cudaEventRecord(start, cs) == cudaSuccess;
  for (int r = 0; ok && r < reps; ++r)
    ok = launch(g, p, algo, handle, workspace, workspace_bytes, stream) == CUBLAS_STATUS_SUCCESS;
  float ms = -1;
  if (ok && cudaEventRecord(stop, cs) == cudaSuccess && cudaEventSynchronize(stop) == cudaSuccess &&
      cudaEventElapsedTime(&ms, start, stop) == cudaSuccess)
    ms /= static_cast<float>(reps);
  else
    ms = -1;
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

std::string describe_algo(const cublasLtMatmulAlgo_t& algo) {
  const std::pair<cublasLtMatmulAlgoConfigAttributes_t, const char*> fields[] = {
      {CUBLASLT_ALGO_CONFIG_ID, "algo"},           {CUBLASLT_ALGO_CONFIG_TILE_ID, "tile"},
      {CUBLASLT_ALGO_CONFIG_STAGES_ID, "stages"},  {CUBLASLT_ALGO_CONFIG_SPLITK_NUM, "splitK"},
      {CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, "reduction"}, {CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, "swizzle"},
      {CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, "cluster"}};
  std::ostringstream os;
  for (const auto& [attr, name] : fields) {
    uint32_t value = 0;
    size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &value, sizeof(value), &written) == CUBLAS_STATUS_SUCCESS)
      os << (os.tellp() > 0 ? " " : "") << name << ' ' << value;
  }
  return os.str();
}

bool stream_capturing(Stream stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(reinterpret_cast<cudaStream_t>(stream), &status) == cudaSuccess &&
         status != cudaStreamCaptureStatusNone;
}

// The algorithm for g's problem: the cached choice, else a new one by the process's GemmAlgoChoice.
std::optional<cublasLtMatmulAlgo_t> choose(const EpilogueGemm& g, const Described& p, LtHandle handle,
                                           void* workspace, size_t workspace_bytes, Stream stream) {
  const std::lock_guard lock(cache_mutex);
  const Key key = key_of(g, current_device());
  auto it = algo_cache().find(key);
  if (it != algo_cache().end() && !it->second.checked) {
    cublasLtMatmulHeuristicResult_t result{};
    if (it->second.algo && cublasLtMatmulAlgoCheck(handle, p.desc.get(), p.a.get(), p.b.get(), p.d.get(), p.d.get(),
                                                   &*it->second.algo, &result) == CUBLAS_STATUS_SUCCESS &&
        result.workspaceSize <= workspace_bytes) {
      it->second.checked = true;
    } else {
      algo_cache().erase(it);
      it = algo_cache().end();
    }
  }
  if (it != algo_cache().end()) return it->second.algo;

  const bool timed = choice_mode == GemmAlgoChoice::kTimed && !stream_capturing(stream);
  const auto results = heuristic(p, handle, workspace_bytes, timed ? kGemmTimedCandidates : 1);
  Choice c;
  if (!results.empty()) c.algo = results.front().algo;
  if (timed && results.size() > 1) {
    // The heuristic's first answer wins ties; another must be faster by more than the timing's noise.
    float best_ms = time_algo(g, p, results.front().algo, handle, workspace, workspace_bytes, stream, 5);
    for (size_t i = 1; i < results.size(); ++i) {
      const float ms = time_algo(g, p, results[i].algo, handle, workspace, workspace_bytes, stream, 5);
      if (ms > 0 && (best_ms < 0 || ms < 0.97f * best_ms)) best_ms = ms, c.algo = results[i].algo;
    }
  }
  algo_cache().emplace(key, c);
  return c.algo;
}

constexpr const char* kHeaderStart = "# sigtrain gemm algorithms v1; cublasLt ";

std::string setup_header() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, current_device()) != cudaSuccess)
    throw std::runtime_error("epilogue_gemm: cudaGetDeviceProperties failed");
  return std::string(kHeaderStart) + std::to_string(cublasLtGetVersion()) + "; GPU " + prop.name + " (" +
         std::to_string(prop.multiProcessorCount) + " SMs)";
}

}  // namespace

bool epilogue_gemm(const EpilogueGemm& g, LtHandle handle, void* workspace, size_t workspace_bytes, Stream stream) {
  const Described p = describe_problem(g);
  const std::optional<cublasLtMatmulAlgo_t> algo = choose(g, p, handle, workspace, workspace_bytes, stream);
  if (!algo) return false;
  check(launch(g, p, *algo, handle, workspace, workspace_bytes, stream), "cublasLtMatmul");
  return true;
}

void set_gemm_algo_choice(GemmAlgoChoice choice) {
  const std::lock_guard lock(cache_mutex);
  choice_mode = choice;
}

std::string gemm_algo_choices() {
  const int device = current_device();
  std::ostringstream os;
  os << setup_header() << '\n';
  const std::lock_guard lock(cache_mutex);
  for (const auto& [key, c] : algo_cache()) {
    if (key[kKeyFields] != device) continue;
    for (int i = 0; i < kKeyFields; ++i) os << key[i] << ' ';
    os << ':';
    if (!c.algo) {
      os << " none\n";
      continue;
    }
    for (uint64_t word : c.algo->data) os << ' ' << std::hex << word << std::dec;
    os << '\n';
  }
  return os.str();
}

GemmRestore restore_gemm_algo_choices(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line.rfind(kHeaderStart, 0) != 0)
    throw std::invalid_argument("GEMM algorithm record: line 1 is not a \"" + std::string(kHeaderStart) +
                                "...\" header");
  if (line != setup_header()) return GemmRestore::kOtherSetup;
  const int device = current_device();
  std::map<Key, Choice> parsed;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    auto bad = [&](const std::string& what) {
      return std::invalid_argument("GEMM algorithm record: line " + std::to_string(line_no) + ": " + what + " in \"" +
                                   line + "\"");
    };
    std::istringstream fields(line);
    Key key{};
    for (int i = 0; i < kKeyFields; ++i)
      if (!(fields >> key[i])) throw bad("expected " + std::to_string(kKeyFields) + " integers before ':'");
    key[kKeyFields] = device;
    std::string colon;
    if (!(fields >> colon) || colon != ":") throw bad("expected ':' after the problem");
    Choice c;
    c.checked = false;
    std::string word;
    if (!(fields >> word)) throw bad("expected \"none\" or 8 hexadecimal words after ':'");
    if (word != "none") {
      cublasLtMatmulAlgo_t algo{};
      for (size_t i = 0; i < std::size(algo.data); ++i) {
        if (i > 0 && !(fields >> word)) throw bad("expected 8 hexadecimal words after ':'");
        size_t used = 0;
        try {
          algo.data[i] = std::stoull(word, &used, 16);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != word.size() || word.empty()) throw bad("\"" + word + "\" is not a hexadecimal word");
      }
      c.algo = algo;
    }
    if (fields >> word) throw bad("unexpected \"" + word + "\" at the end");
    parsed[key] = c;
  }
  const std::lock_guard lock(cache_mutex);
  for (auto& [key, c] : parsed) algo_cache()[key] = c;
  return GemmRestore::kRestored;
}

void forget_gemm_algo_choices() {
  const std::lock_guard lock(cache_mutex);
  algo_cache().clear();
}

std::vector<GemmCandidate> time_gemm_candidates(const EpilogueGemm& g, LtHandle handle, void* workspace,
                                                size_t workspace_bytes, Stream stream, int max_candidates, int reps) {
  const Described p = describe_problem(g);
  std::vector<GemmCandidate> out;
  for (const auto& r : heuristic(p, handle, workspace_bytes, max_candidates)) {
    GemmCandidate c;
    c.description = describe_algo(r.algo);
    c.waves = r.wavesCount;
    c.ms = time_algo(g, p, r.algo, handle, workspace, workspace_bytes, stream, reps);
    out.push_back(c);
  }
  return out;
}

}  // namespace sigtrain::kernels
