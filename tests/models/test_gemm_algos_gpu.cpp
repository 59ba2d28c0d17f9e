// fused_ops.gemm_algo (models/gemm_algos.h, kernels/gemm_epilogue.h) on the GPU: the timed choice computes the
// linear layer's y, dx, dW and db as the heuristic's does within bf16 rounding (y, dx: 2^-7 of the scale, a few
// bf16 roundings of another summation order; dW, db in fp32: 2^-14), repeats bit for bit, and its record, given
// back to a forgotten cache, makes the layer compute bit for bit alike without choosing again. Records of another
// setup, malformed records and algorithms cuBLASLt refuses are handled as gemm_algos.h says. Skips without CUDA.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "models/fused_ops.h"
#include "models/gemm_algos.h"
#include "models/linear_fused.h"

using namespace sigtrain::models;

#define SKIP_WITHOUT_FUSED_CUDA()                                     \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"; \
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels"

namespace {

// y, dx, dW, db of the fused linear layer 768 → 768 with a bias on 1,024 bf16 rows.
std::vector<at::Tensor> run_layer() {
  torch::manual_seed(21);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = torch::randn({1024, 768}, cuda).to(torch::kBFloat16).requires_grad_(true);
  at::Tensor w = (torch::randn({768, 768}, cuda) / std::sqrt(768.0)).requires_grad_(true);
  at::Tensor b = (torch::randn({768}, cuda) * 0.5).requires_grad_(true);
  at::Tensor dy = torch::randn({1024, 768}, cuda).to(torch::kBFloat16);
  at::Tensor y = fused_linear(x, w, b);
  y.backward(dy);
  return {y.detach(), x.grad(), w.grad(), b.grad()};
}

void expect_close(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  const char* names[] = {"y", "dx", "dW", "db"};
  const int exponents[] = {-7, -7, -14, -14};
  for (size_t i = 0; i < a.size(); ++i) {
    const double scale = b[i].to(torch::kDouble).abs().max().item<double>();
    const double err = (a[i].to(torch::kDouble) - b[i].to(torch::kDouble)).abs().max().item<double>();
    EXPECT_LE(err, std::ldexp(1.0, exponents[i]) * scale) << names[i] << " (scale " << scale << ")";
  }
}

void expect_bit_equal(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  const char* names[] = {"y", "dx", "dW", "db"};
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << names[i];
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Leaves the process as a fresh one: heuristic choices, nothing cached.
struct ResetGemmAlgos {
  ~ResetGemmAlgos() {
    use_timed_gemm_algos(false);
    forget_gemm_algos();
  }
};

}  // namespace

TEST(GemmAlgos, TimedChoiceRecordedAndRestoredBitForBit) {
  SKIP_WITHOUT_FUSED_CUDA();
  const ResetGemmAlgos reset;
  forget_gemm_algos();
  use_timed_gemm_algos(false);
  const auto heuristic = run_layer();
  forget_gemm_algos();
  use_timed_gemm_algos(true);
  const auto timed = run_layer();
  expect_close(timed, heuristic);
  const std::string record = gemm_algo_record();
  const auto lines = lines_of(record);
  ASSERT_EQ(lines.size(), 4u) << "a header and the forward, dx and dW problems:\n" << record;
  EXPECT_EQ(lines[0].rfind("# sigtrain gemm algorithms v1; cublasLt ", 0), 0u) << lines[0];
  expect_bit_equal(run_layer(), timed);

  forget_gemm_algos();
  EXPECT_EQ(lines_of(gemm_algo_record()).size(), 1u) << "forgotten: the header alone";
  EXPECT_TRUE(restore_gemm_algo_record(record));
  EXPECT_EQ(gemm_algo_record(), record) << "restored before anything ran";
  expect_bit_equal(run_layer(), timed);
  EXPECT_EQ(gemm_algo_record(), record) << "the restored choices were used, none chosen again";
}

TEST(GemmAlgos, RecordsOfAnotherSetupMalformedOrRefusedByCublasLt) {
  SKIP_WITHOUT_FUSED_CUDA();
  const ResetGemmAlgos reset;
  forget_gemm_algos();
  use_timed_gemm_algos(false);
  const auto heuristic = run_layer();
  const std::string record = gemm_algo_record();
  const auto lines = lines_of(record);
  ASSERT_EQ(lines.size(), 4u) << record;

  // Another GPU in the header: nothing taken.
  forget_gemm_algos();
  std::string other = record;
  other.replace(other.find("; GPU ") + 6, 0, "Another ");
  EXPECT_FALSE(restore_gemm_algo_record(other));
  EXPECT_EQ(lines_of(gemm_algo_record()).size(), 1u);

  auto error_of = [](const std::string& text) {
    try {
      restore_gemm_algo_record(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("hello\n").find("line 1 is not a"), std::string::npos) << error_of("hello\n");
  const std::string short_key = lines[0] + "\n1 2 3 : none\n";
  EXPECT_NE(error_of(short_key).find("line 2: expected 13 integers"), std::string::npos) << error_of(short_key);
  const std::string key = lines[1].substr(0, lines[1].find(':'));
  const std::string not_hex = lines[0] + "\n" + key + ": 1 2 3 4 5 6 7 xyz\n";
  EXPECT_NE(error_of(not_hex).find("line 2: \"xyz\" is not a hexadecimal word"), std::string::npos)
      << error_of(not_hex);
  EXPECT_EQ(lines_of(gemm_algo_record()).size(), 1u) << "a malformed record takes nothing";

  // An algorithm cuBLASLt refuses for its problem is dropped when first used and chosen again.
  std::string refused = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    refused += lines[i].substr(0, lines[i].find(':')) + ":";
    for (int w = 0; w < 8; ++w) refused += " ffffffffffffffff";
    refused += "\n";
  }
  EXPECT_TRUE(restore_gemm_algo_record(refused));
  expect_bit_equal(run_layer(), heuristic);
  EXPECT_EQ(gemm_algo_record(), record) << "the heuristic's choices again";
}
