#pragma once
// Vision transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), with every option of the shared
// blocks (models/transformer.h): softmax or sigmoid attention with b = −log n (n = patch tokens), QK-norm,
// LayerScale, hybrid norm, all attention backends including `fused`.
//
//   images [B, C, H, W]
//     → patches: non-overlapping p×p tiles, each flattened (C, p, p) and projected to d_model (a linear layer,
//       equal to a stride-p convolution; parameter "patch_embed.weight" [d, C·p·p], group input)
//     → [CLS] token prepended (pool: cls; "cls_token.weight" [1, d])
//     → + positions: learned ("pos_embed.weight" [tokens, d]) or fixed 2-D sin-cos (MAE's table), or none;
//       for another image size at evaluation the learned grid is resampled bicubically (timm's rule) and the
//       sin-cos table is recomputed for the new grid
//     → dropout → blocks (bidirectional) → final norm
//     → pool (CLS state, or the mean over patch tokens) → head "head.{weight,bias}" [classes, d] → logits
//
// Stochastic depth (model.drop_path) and dropout (model.dropout) are the blocks'. The model's sequence length
// for FLOPs and the batch arithmetic is vision.tokens() (patches, plus CLS).
#include <memory>

#include "models/model.h"

namespace sigtrain::models {

class VisionTransformer : public Model {
 public:
  VisionTransformer(const ModelConfig& cfg, const AttentionConfig& attn);
  // Pooled representation → class logits [B, num_classes].
  at::Tensor logits(const at::Tensor& hidden) const override;
  // Non-overlapping patches of images [B, C, H, W] as rows [B, (H/p)·(W/p), C·p·p] (row-major over the grid).
  static at::Tensor patchify(const at::Tensor& images, int64_t patch_size);
  // The position table [grid_h·grid_w (+1 CLS row of zeros), d] used for a grid_h × grid_w patch grid.
  at::Tensor positions_for(int64_t grid_h, int64_t grid_w) const;

 protected:
  at::Tensor embed(const ModelInputs& in) override;

 private:
  std::shared_ptr<Linear> patch_embed_;  // "patch_embed"
  std::shared_ptr<Embedding> cls_token_; // "cls_token", pool: cls only
  std::shared_ptr<Embedding> pos_embed_; // "pos_embed", positions: learned only
  std::shared_ptr<Linear> head_;         // "head"
};

// MAE's fixed 2-D sin-cos table [grid_h·grid_w, d]: the first d/2 channels encode the row, the last d/2 the column,
// each as [sin(pos·ω_k), cos(pos·ω_k)] with ω_k = 10000^(−k/(d/4)), k = 0..d/4−1. float32.
at::Tensor sincos_2d_positions(int64_t grid_h, int64_t grid_w, int64_t d);

}  // namespace sigtrain::models
