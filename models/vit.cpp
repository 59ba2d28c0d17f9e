// Vision transformer: patch embedding, CLS token, 2-D positions, the shared blocks, pooled classifier head.
#include "models/vit.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace sigtrain::models {

namespace {

const ModelConfig& checked(const ModelConfig& cfg) {
  if (cfg.arch != Arch::kVit) throw std::invalid_argument("model.arch: VisionTransformer needs arch: vit");
  return cfg;
}

// [n] positions → [n, d/2] as [sin(p·ω_k) | cos(p·ω_k)], ω_k = 10000^(−k/(d/4)).
at::Tensor sincos_1d(const at::Tensor& pos, int64_t half) {
  const int64_t quarter = half / 2;
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  at::Tensor omega = torch::pow(10000.0, -torch::arange(quarter, f64) / static_cast<double>(quarter));
  at::Tensor angles = torch::outer(pos.to(torch::kFloat64), omega);  // [n, d/4]
  return torch::cat({angles.sin(), angles.cos()}, 1);
}

}  // namespace

at::Tensor sincos_2d_positions(int64_t grid_h, int64_t grid_w, int64_t d) {
  TORCH_CHECK(d % 4 == 0, "sincos_2d_positions: d must be divisible by 4");
  auto lopt = torch::TensorOptions().dtype(torch::kLong);
  at::Tensor rows = torch::arange(grid_h, lopt).repeat_interleave(grid_w);  // row of each patch, row-major
  at::Tensor cols = torch::arange(grid_w, lopt).repeat({grid_h});
  return torch::cat({sincos_1d(rows, d / 2), sincos_1d(cols, d / 2)}, 1).to(torch::kFloat32);
}

VisionTransformer::VisionTransformer(const ModelConfig& cfg, const AttentionConfig& attn)
    : Model(checked(cfg), attn) {
  const VisionModelConfig& v = cfg_.vision;
  const int64_t d = cfg_.d_model;
  patch_embed_ = register_module(
      "patch_embed", std::make_shared<Linear>(v.channels * v.patch_size * v.patch_size, d, /*bias=*/true,
                                              cfg_.init_std, ParamGroup::kInput));
  if (v.pool == VisionPooling::kCls) cls_token_ = register_module("cls_token", std::make_shared<Embedding>(1, d, 1e-6));
  if (cfg_.positions == PositionKind::kLearned)
    pos_embed_ = register_module("pos_embed", std::make_shared<Embedding>(v.tokens(), d, cfg_.init_std));
  add_blocks();
  head_ = register_module("head", std::make_shared<Linear>(d, v.num_classes, /*bias=*/true, cfg_.init_std,
                                                           ParamGroup::kHead));
}

at::Tensor VisionTransformer::patchify(const at::Tensor& images, int64_t p) {
  TORCH_CHECK(images.dim() == 4, "vision transformer input must be images [B, C, H, W]");
  const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  TORCH_CHECK(H % p == 0 && W % p == 0, "image size ", H, "x", W, " is not a multiple of patch_size ", p);
  // [B, C, H/p, p, W/p, p] → [B, H/p, W/p, C, p, p] → rows in the (C, p, p) order of a convolution's weight.
  return images.reshape({B, C, H / p, p, W / p, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, (H / p) * (W / p), C * p * p});
}

at::Tensor VisionTransformer::positions_for(int64_t grid_h, int64_t grid_w) const {
  const VisionModelConfig& v = cfg_.vision;
  const int64_t d = cfg_.d_model;
  const bool cls = v.pool == VisionPooling::kCls;
  at::Tensor table;
  if (cfg_.positions == PositionKind::kSinCos2d) {
    table = sincos_2d_positions(grid_h, grid_w, d).to(patch_embed_->weight.device());
  } else {
    table = pos_embed_->weight.narrow(0, cls ? 1 : 0, v.num_patches());
    if (grid_h != v.grid() || grid_w != v.grid()) {  // another image size: resample the learned grid (bicubic)
      at::Tensor grid = table.reshape({1, v.grid(), v.grid(), d}).permute({0, 3, 1, 2});
      grid = torch::nn::functional::interpolate(
          grid, torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{grid_h, grid_w})
                    .mode(torch::kBicubic)
                    .align_corners(false));
      table = grid.permute({0, 2, 3, 1}).reshape({grid_h * grid_w, d});
    }
  }
  if (!cls) return table;
  at::Tensor cls_row = pos_embed_ ? pos_embed_->weight.narrow(0, 0, 1) : torch::zeros({1, d}, table.options());
  return torch::cat({cls_row, table}, 0);
}

at::Tensor VisionTransformer::embed(const ModelInputs& in) {
  TORCH_CHECK(in.images.defined(), "vision transformer input: ModelInputs.images [B, C, H, W] is required");
  const VisionModelConfig& v = cfg_.vision;
  TORCH_CHECK(in.images.size(1) == v.channels, "images have ", in.images.size(1), " channels, model.vision.channels is ",
              v.channels);
  const int64_t B = in.images.size(0);
  at::Tensor x = patch_embed_->forward(patchify(in.images, v.patch_size));  // [B, N, d]
  if (cls_token_) x = torch::cat({cls_token_->weight.to(x.scalar_type()).expand({B, 1, cfg_.d_model}), x}, 1);
  if (cfg_.positions != PositionKind::kNone)
    x = x + positions_for(in.images.size(2) / v.patch_size, in.images.size(3) / v.patch_size).to(x.scalar_type());
  return x;
}

at::Tensor VisionTransformer::logits(const at::Tensor& hidden) const {
  const at::Tensor pooled = cfg_.vision.pool == VisionPooling::kCls ? hidden.select(1, 0) : hidden.mean(1);
  return head_->forward(pooled);
}

}  // namespace sigtrain::models
