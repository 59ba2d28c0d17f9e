// Speech encoder: convolutional 4× subsampling, the shared blocks, a CTC head; and the CTC loss.
#include "models/asr_encoder.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace sigtrain::models {

namespace {

const ModelConfig& checked(const ModelConfig& cfg) {
  if (cfg.arch != Arch::kAsr) throw std::invalid_argument("model.arch: SpeechEncoder needs arch: asr");
  return cfg;
}

at::Tensor activate(const at::Tensor& x, ConvActivation a) {
  return a == ConvActivation::kRelu ? torch::relu(x) : torch::gelu(x);
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride_, ParamGroup group)
    : ParamModule(group), stride(stride_) {
  weight = register_parameter("weight", torch::empty({out_channels, in_channels, kernel, kernel}));
  bias = register_parameter("bias", torch::zeros({out_channels}));
  torch::NoGradGuard no_grad;
  trunc_normal_(weight, std::sqrt(2.0 / static_cast<double>(in_channels * kernel * kernel)));
}

at::Tensor Conv2d::forward(const at::Tensor& x) const {
  return at::conv2d(x, weight.to(x.scalar_type()), bias.to(x.scalar_type()), {stride, stride});
}

ConvSubsampling::ConvSubsampling(const SpeechModelConfig& s, int64_t d_model) : activation_(s.conv_activation) {
  const int64_t C = s.conv_channels;
  conv1 = register_module("conv1", std::make_shared<Conv2d>(1, C, 3, 2, ParamGroup::kInput));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(C, C, 3, 2, ParamGroup::kInput));
  // LeCun's std 1/√fan_in (not model.init_std): the projection's input width C·F' is in the thousands, and this
  // keeps the embedding at unit scale whatever C and n_mels are.
  const int64_t in = s.projection_in();
  const double lecun_std = 1.0 / std::sqrt(static_cast<double>(in));
  proj = register_module("proj", std::make_shared<Linear>(in, d_model, /*bias=*/true, lecun_std, ParamGroup::kInput));
}

at::Tensor ConvSubsampling::forward(const at::Tensor& features) const {
  at::Tensor x = features.unsqueeze(1);  // [B, 1, T, F]: time and mel are the convolution's two axes
  x = activate(conv1->forward(x), activation_);
  x = activate(conv2->forward(x), activation_);  // [B, C, T', F']
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), F = x.size(3);
  x = x.permute({0, 2, 1, 3}).reshape({B, T, C * F});  // each position: its C channels × F' mel positions
  return proj->forward(x);
}

at::Tensor sincos_1d_positions(int64_t length, int64_t d) {
  TORCH_CHECK(d % 2 == 0, "sincos_1d_positions: d must be even");
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  at::Tensor omega = torch::pow(10000.0, -torch::arange(0, d, 2, f64) / static_cast<double>(d));  // [d/2]
  at::Tensor angles = torch::outer(torch::arange(length, f64), omega);                           // [T, d/2]
  return torch::stack({angles.sin(), angles.cos()}, 2).reshape({length, d}).to(torch::kFloat32);
}

SpeechEncoder::SpeechEncoder(const ModelConfig& cfg, const AttentionConfig& attn) : Model(checked(cfg), attn) {
  const int64_t d = cfg_.d_model;
  front_end_ = register_module("front_end", std::make_shared<ConvSubsampling>(cfg_.speech, d));
  if (cfg_.positions == PositionKind::kLearned)
    pos_embed_ = register_module("pos_embed", std::make_shared<Embedding>(cfg_.max_seq_len, d, cfg_.init_std));
  if (cfg_.positions == PositionKind::kRope)
    rope_ = register_module("rope", std::make_shared<Rope>(cfg_.head_dim(), cfg_.max_seq_len, cfg_.rope_theta));
  if (cfg_.positions == PositionKind::kAlibi)
    alibi_slopes_ = register_buffer("alibi_slopes", alibi_slopes(cfg_.n_head));
  add_blocks();
  head_ = register_module("ctc_head", std::make_shared<Linear>(d, cfg_.vocab_size, /*bias=*/true, cfg_.init_std,
                                                               ParamGroup::kHead));
}

at::Tensor SpeechEncoder::output_lengths(const at::Tensor& frame_lengths) {
  auto conv_out = [](const at::Tensor& n) {
    return torch::where(n >= 3, torch::floor_divide(n - 3, 2) + 1, torch::zeros_like(n));
  };
  return conv_out(conv_out(frame_lengths.to(torch::kLong)));
}

at::Tensor SpeechEncoder::embed(const ModelInputs& in) {
  TORCH_CHECK(in.features.defined() && in.features.dim() == 3,
              "speech encoder input: ModelInputs.features [B, T, n_mels] is required");
  TORCH_CHECK(in.features.size(2) == cfg_.speech.n_mels, "features have ", in.features.size(2),
              " mel bins, model.speech.n_mels is ", cfg_.speech.n_mels);
  TORCH_CHECK(SpeechModelConfig::positions(in.features.size(1)) >= 1, "speech encoder input: ", in.features.size(1),
              " frames give no position after the 4x subsampling (7 frames are the least)");
  at::Tensor x = front_end_->forward(in.features);  // [B, T', d]
  const int64_t T = x.size(1);
  if (pos_embed_) {
    TORCH_CHECK(T <= cfg_.max_seq_len, "speech encoder: ", T, " positions exceed model.max_seq_len ",
                cfg_.max_seq_len);
    x = x + pos_embed_->weight.narrow(0, 0, T).unsqueeze(0).to(x.scalar_type());
  }
  if (cfg_.positions == PositionKind::kSinCos)
    x = x + sincos_1d_positions(T, cfg_.d_model).to(x.device(), x.scalar_type()).unsqueeze(0);
  return x;
}

at::Tensor SpeechEncoder::logits(const at::Tensor& hidden) const { return head_->forward(hidden); }

at::Tensor ctc_loss_sum(const at::Tensor& logits, at::IntArrayRef positions, const at::Tensor& targets,
                        at::IntArrayRef target_lengths) {
  TORCH_CHECK(logits.dim() == 3, "ctc_loss_sum: logits must be [B, T, V]");
  TORCH_CHECK(static_cast<int64_t>(positions.size()) == logits.size(0) &&
                  static_cast<int64_t>(target_lengths.size()) == logits.size(0),
              "ctc_loss_sum: one position count and one target length per utterance");
  const at::Tensor log_probs = torch::log_softmax(logits.to(torch::kFloat32), -1).transpose(0, 1);  // [T, B, V]
  const at::Tensor per_utterance = at::ctc_loss(log_probs, targets.to(log_probs.device(), torch::kLong), positions,
                                                target_lengths, /*blank=*/0, at::Reduction::None,
                                                /*zero_infinity=*/true);
  return per_utterance.sum();
}

bool ctc_feasible(const int64_t* target, int64_t target_length, int64_t positions) {
  int64_t needed = target_length;
  for (int64_t i = 1; i < target_length; ++i) needed += target[i] == target[i - 1] ? 1 : 0;
  return positions >= needed;
}

}  // namespace sigtrain::models
