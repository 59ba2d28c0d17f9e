// models/weight_casts.h on the CPU: the copies are the weights' casts, a weight changed in place (by hand or by an
// optimizer step) gets no copy until the next refresh, a refresh reuses its buffer, duplicates are kept once, and
// autograd refuses a backward through a copy that a later refresh overwrote.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/weight_casts.h"

using sigtrain::models::WeightCasts;

namespace {

struct Weights {
  at::Tensor w = torch::randn({16, 24}).requires_grad_(true);
  at::Tensor b = torch::randn({16}).requires_grad_(true);
};

}  // namespace

TEST(WeightCasts, CopiesAreTheCastsOfTheRegisteredWeights) {
  Weights p;
  WeightCasts casts;
  casts.set_weights({p.w, p.b, p.w});
  EXPECT_FALSE(casts.get(p.w, at::kBFloat16).defined()) << "no refresh yet";
  casts.refresh(at::kBFloat16);
  const at::Tensor w_copy = casts.get(p.w, at::kBFloat16), b_copy = casts.get(p.b, at::kBFloat16);
  ASSERT_TRUE(w_copy.defined() && b_copy.defined());
  EXPECT_EQ(w_copy.scalar_type(), at::kBFloat16);
  EXPECT_EQ(w_copy.sizes(), p.w.sizes());
  EXPECT_TRUE(torch::equal(w_copy, p.w.detach().to(at::kBFloat16)));
  EXPECT_TRUE(torch::equal(b_copy, p.b.detach().to(at::kBFloat16)));
  EXPECT_FALSE(w_copy.requires_grad());
  EXPECT_FALSE(casts.get(p.w, at::kHalf).defined()) << "another dtype";
  EXPECT_FALSE(casts.get(torch::randn({16, 24}), at::kBFloat16).defined()) << "not registered";
  // The duplicate is kept once: the bias's copy starts right after the weight's (384 elements, a multiple of 8).
  EXPECT_EQ(static_cast<const char*>(b_copy.data_ptr()) - static_cast<const char*>(w_copy.data_ptr()), 384 * 2);
}

TEST(WeightCasts, AChangedWeightGetsNoCopyUntilTheNextRefresh) {
  Weights p;
  WeightCasts casts;
  casts.set_weights({p.w, p.b});
  casts.refresh(at::kBFloat16);
  const void* buffer = casts.get(p.w, at::kBFloat16).data_ptr();
  {
    torch::NoGradGuard no_grad;
    p.w.add_(1.0);
  }
  EXPECT_FALSE(casts.get(p.w, at::kBFloat16).defined()) << "w changed in place since the refresh";
  EXPECT_TRUE(casts.get(p.b, at::kBFloat16).defined()) << "b did not change";
  casts.refresh(at::kBFloat16);
  ASSERT_TRUE(casts.get(p.w, at::kBFloat16).defined());
  EXPECT_TRUE(torch::equal(casts.get(p.w, at::kBFloat16), p.w.detach().to(at::kBFloat16)));
  EXPECT_EQ(casts.get(p.w, at::kBFloat16).data_ptr(), buffer) << "the refresh reuses its buffer";
}

TEST(WeightCasts, AnOptimizerStepInvalidatesTheCopies) {
  Weights p;
  WeightCasts casts;
  casts.set_weights({p.w, p.b});
  casts.refresh(at::kBFloat16);
  torch::optim::AdamW opt({p.w, p.b}, torch::optim::AdamWOptions(1e-2));
  (p.w.sum() + p.b.sum()).backward();
  opt.step();
  EXPECT_FALSE(casts.get(p.w, at::kBFloat16).defined());
  EXPECT_FALSE(casts.get(p.b, at::kBFloat16).defined());
}

TEST(WeightCasts, BackwardThroughACopyOverwrittenByARefreshIsRefused) {
  Weights p;
  WeightCasts casts;
  casts.set_weights({p.w});
  casts.refresh(at::kFloat);
  at::Tensor x = torch::randn({4, 24}).requires_grad_(true);
  at::Tensor y = at::mm(x, casts.get(p.w, at::kFloat).t());  // saves the copy for x's gradient
  casts.refresh(at::kFloat);
  try {
    y.sum().backward();
    FAIL() << "backward ran on an overwritten copy";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified by an inplace operation"), std::string::npos) << e.what();
  }
}

TEST(WeightCasts, NothingRegisteredIsANoOp) {
  WeightCasts casts;
  EXPECT_TRUE(casts.empty());
  casts.refresh(at::kBFloat16);
  EXPECT_FALSE(casts.get(torch::randn({2}), at::kBFloat16).defined());
}
