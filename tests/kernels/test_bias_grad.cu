// GPU tests of the bias-gradient kernel (kernels/bias_grad_kernel.h) against a float64 host reference.
//
// Column sums: |db − Σ g| ≤ 2⁻¹⁶ · Σ|g| per column (fp32 accumulation over ≤ 20K rows; a bf16-rounded or dropped
// partial is ~2⁻⁹). GELU form: each dpre element within one ulp of its dtype (fp16: and its subnormal spacing) of
// g · GELU′(pre) computed in float64 (plus 1e-6 · |g| for fp32's tanhf), and db against the float64 sum of the
// *rounded* dpre, as the weight-gradient GEMM sees it. Row counts that are not multiples of the 128-row partials,
// one partial, many; two calls give the same bits; bad arguments are refused by name.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bias_grad_kernel.h"
#include "half_bits.h"

using namespace sigtrain::kernels;

namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

uint16_t to_bits(float v, ElementType t) { return test_support::to_16bit(v, t == ElementType::kBF16); }
float from_bits(uint16_t b, ElementType t) { return test_support::from_16bit(b, t == ElementType::kBF16); }

double gelu_tanh(double x) {
  const double beta = std::sqrt(2.0 / M_PI), kappa = 0.044715;
  return 0.5 * x * (1 + std::tanh(beta * (x + kappa * x * x * x)));
}

double gelu_tanh_derivative(double x) {
  const double beta = std::sqrt(2.0 / M_PI), kappa = 0.044715;
  const double t = std::tanh(beta * (x + kappa * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * beta * (1 + 3 * kappa * x * x);
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(size_t n) {
    if (cudaMalloc(&ptr, n * sizeof(T) + 16) != cudaSuccess) throw std::runtime_error("cudaMalloc failed");
  }
  ~DeviceBuffer() { cudaFree(ptr); }
};

struct Result {
  std::vector<float> db;
  std::vector<uint16_t> dpre, h;
};

// gelu_value: the GELU form also writes GELU(pre) (BiasGradParams::gelu_out).
Result run(ElementType t, int64_t rows, int64_t cols, const std::vector<uint16_t>& grad,
           const std::vector<uint16_t>* pre, bool gelu_value = false) {
  const size_t n = static_cast<size_t>(rows * cols);
  DeviceBuffer<uint16_t> d_grad(n), d_pre(n), d_dpre(n), d_h(n);
  DeviceBuffer<float> d_db(cols), d_ws(bias_grad_workspace_floats(rows, cols));
  cudaMemcpy(d_grad.ptr, grad.data(), n * 2, cudaMemcpyHostToDevice);
  BiasGradParams p;
  p.dtype = t;
  p.rows = rows;
  p.cols = cols;
  p.grad = d_grad.ptr;
  p.bias_grad = d_db.ptr;
  p.workspace = d_ws.ptr;
  if (pre) {
    cudaMemcpy(d_pre.ptr, pre->data(), n * 2, cudaMemcpyHostToDevice);
    p.gelu_pre = d_pre.ptr;
    p.gelu_grad = d_dpre.ptr;
    if (gelu_value) {
      p.gelu_out = d_h.ptr;
      cudaMemset(d_h.ptr, 0xff, n * 2);  // NaN: every element must be written
    }
  }
  cudaMemset(d_db.ptr, 0xff, cols * sizeof(float));  // NaN: every column must be written
  bias_grad(p, nullptr);
  Result r{std::vector<float>(cols), std::vector<uint16_t>(pre ? n : 0), std::vector<uint16_t>(gelu_value ? n : 0)};
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaMemcpy(r.db.data(), d_db.ptr, cols * sizeof(float), cudaMemcpyDeviceToHost);
  if (pre) cudaMemcpy(r.dpre.data(), d_dpre.ptr, n * 2, cudaMemcpyDeviceToHost);
  if (gelu_value) cudaMemcpy(r.h.data(), d_h.ptr, n * 2, cudaMemcpyDeviceToHost);
  return r;
}

void check(ElementType t, int64_t rows, int64_t cols, bool gelu) {
  SCOPED_TRACE(std::string(t == ElementType::kBF16 ? "bf16" : "fp16") + " rows " + std::to_string(rows) + " cols " +
               std::to_string(cols) + (gelu ? " gelu" : ""));
  std::mt19937 rng(static_cast<uint32_t>(rows * 131 + cols + gelu));
  std::normal_distribution<float> normal(0.f, 1.f);
  const size_t n = static_cast<size_t>(rows * cols);
  std::vector<uint16_t> grad(n), pre(n);
  for (size_t i = 0; i < n; ++i) grad[i] = to_bits(normal(rng) + 0.25f, t);  // a mean, so that sums do not cancel
  for (size_t i = 0; i < n; ++i) pre[i] = to_bits(2.f * normal(rng), t);
  const Result got = run(t, rows, cols, grad, gelu ? &pre : nullptr);
  // One ulp relative (the fp32 value may round to the other neighbour of a near-tie), and fp16's subnormal spacing.
  const double unit = t == ElementType::kBF16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
  const double tiny = t == ElementType::kBF16 ? 0.0 : std::ldexp(1.0, -24);
  std::vector<double> sum(cols, 0.0), abs_sum(cols, 0.0);
  int bad_elements = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      double v = from_bits(grad[i], t);
      if (gelu) {
        const double exact = v * gelu_tanh_derivative(from_bits(pre[i], t));
        const double kernel = from_bits(got.dpre[i], t);
        if (std::abs(kernel - exact) > unit * std::abs(exact) + tiny + 1e-6 * std::abs(v)) ++bad_elements;
        v = kernel;  // db sums the rounded dpre
      }
      sum[c] += v;
      abs_sum[c] += std::abs(v);
    }
  EXPECT_EQ(bad_elements, 0) << "dpre elements beyond one ulp of float64";
  int bad_columns = 0;
  for (int64_t c = 0; c < cols; ++c)
    if (!(std::abs(got.db[c] - sum[c]) <= std::ldexp(1.0, -16) * abs_sum[c] + 1e-30)) {
      if (bad_columns++ < 3) ADD_FAILURE() << "column " << c << ": " << got.db[c] << " vs " << sum[c];
    }
  EXPECT_EQ(bad_columns, 0);
  const Result again = run(t, rows, cols, grad, gelu ? &pre : nullptr);
  EXPECT_EQ(std::memcmp(again.db.data(), got.db.data(), cols * sizeof(float)), 0) << "not deterministic";
}

}  // namespace

TEST(BiasGrad, Bf16QkvWidthRowsNotAMultipleOfThePartials) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  check(ElementType::kBF16, 4099, 2304, false);
}
TEST(BiasGrad, Fp16NarrowColumnsOnePartial) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  check(ElementType::kFP16, 37, 8, false);
}
TEST(BiasGrad, Bf16ManyRowsColumnTileTail) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  check(ElementType::kBF16, 20000, 264, false);
}
TEST(BiasGrad, GeluBf16MlpWidth) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  check(ElementType::kBF16, 1029, 3072, true);
}
TEST(BiasGrad, GeluFp16) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  check(ElementType::kFP16, 300, 520, true);
}

TEST(BiasGrad, GeluValueWrittenInTheSamePass) {
  // fused_ops.mlp_recompute: GELU(pre) within one ulp of float64, every element written, and dpre and db the same
  // bits as without the value output.
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (ElementType t : {ElementType::kBF16, ElementType::kFP16}) {
    SCOPED_TRACE(t == ElementType::kBF16 ? "bf16" : "fp16");
    const int64_t rows = 300, cols = 3072;
    std::mt19937 rng(17);
    std::normal_distribution<float> normal(0.f, 1.f);
    const size_t n = static_cast<size_t>(rows * cols);
    std::vector<uint16_t> grad(n), pre(n);
    for (size_t i = 0; i < n; ++i) grad[i] = to_bits(normal(rng), t);
    for (size_t i = 0; i < n; ++i) pre[i] = to_bits(3.f * normal(rng), t);
    const Result with = run(t, rows, cols, grad, &pre, /*gelu_value=*/true);
    const Result without = run(t, rows, cols, grad, &pre);
    EXPECT_EQ(with.dpre, without.dpre);
    EXPECT_EQ(std::memcmp(with.db.data(), without.db.data(), cols * sizeof(float)), 0);
    const double unit = t == ElementType::kBF16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
    const double tiny = t == ElementType::kBF16 ? 0.0 : std::ldexp(1.0, -24);
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
      const double x = from_bits(pre[i], t), exact = gelu_tanh(x), kernel = from_bits(with.h[i], t);
      // fp32 tanh's error, scaled by 0.5·x, is ~1e-7 · |x| absolute where GELU(x) itself is near 0 (x << 0).
      if (!(std::abs(kernel - exact) <= unit * std::abs(exact) + tiny + 1e-6 * std::abs(x)) && bad++ < 3)
        ADD_FAILURE() << "GELU(" << x << ") = " << kernel << ", float64 " << exact;
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(BiasGrad, ZeroRowsGiveZeros) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Result r = run(ElementType::kBF16, 0, 16, {}, nullptr);
  for (float v : r.db) EXPECT_EQ(v, 0.f);
}

TEST(BiasGrad, RejectsBadParams) {
  float dummy[4];
  alignas(16) uint16_t data[8];
  BiasGradParams p;
  p.rows = 1;
  p.cols = 12;
  p.grad = data;
  p.bias_grad = dummy;
  p.workspace = dummy;
  auto message = [&] {
    try {
      bias_grad(p, nullptr);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message().find("cols 12 unsupported (a positive multiple of 8)"), std::string::npos) << message();
  p.cols = 8;
  p.gelu_pre = data;
  EXPECT_NE(message().find("gelu_pre and gelu_grad come together"), std::string::npos) << message();
  p.gelu_pre = nullptr;
  p.gelu_out = data;
  EXPECT_NE(message().find("gelu_out needs gelu_pre"), std::string::npos) << message();
  p.gelu_out = nullptr;
  p.grad = reinterpret_cast<const char*>(data) + 2;
  EXPECT_NE(message().find("16-byte aligned"), std::string::npos) << message();
  p.grad = nullptr;
  EXPECT_NE(message().find("grad, bias_grad and the workspace are required"), std::string::npos) << message();
}
