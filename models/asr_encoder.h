#pragma once
// Speech encoder for CTC recognition (model.arch: asr): a convolutional subsampling front end, the shared
// bidirectional blocks (models/transformer.h, every attention option incl. `fused` with key padding by lengths) and a
// CTC head.
//
//   features [B, T, n_mels] (log-mel frames, data/speech/)
//     → front end ("front_end.*", group input), ESPnet's Conv2dSubsampling: over the (time, mel) plane
//         conv1 3×3 stride 2, no padding, 1 → C channels, ReLU | GELU
//         conv2 3×3 stride 2, no padding, C → C, ReLU | GELU
//         [B, C, T', F'] → [B, T', C·F'] → linear "proj" → [B, T', d]
//       T' = SpeechModelConfig::positions(T) = conv_out(conv_out(T)), conv_out(n) = floor((n − 1) / 2) (0 for n < 3)
//       and F' likewise from n_mels (80 → 39 → 19). Without padding an output position only reads frames of its
//       own utterance, so trailing padding never changes a valid position (the padding-invariance test).
//     → + positions: sincos (the 1-D sinusoidal table, computed for T'), learned ("pos_embed", max_seq_len rows),
//       or rope / alibi inside the attention, or none
//     → dropout → blocks (bidirectional; key padding by ModelInputs.lengths = positions per utterance) → final norm
//     → CTC head "ctc_head.{weight,bias}" [vocab, d] (group head) → logits [B, T', vocab], id 0 the blank
//
// The loss is ctc_loss_sum() below; the task (trainer/tasks/speech_task.h) divides it by the target tokens.
// flops_per_token (Model) counts the blocks and, through 6·N, the front end's parameters once per position.
#include <memory>

#include "models/model.h"

namespace sigtrain::models {

// A 2-D convolution without padding: weight [out, in, k, k] trunc-normal with He's std √(2 / fan_in) (the
// front end feeds ReLU/GELU, and He's scale keeps unit-variance features at unit scale), bias zeros.
class Conv2d : public ParamModule {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, ParamGroup group);
  // x [B, C_in, H, W] → [B, C_out, (H − k) / s + 1, (W − k) / s + 1].
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t stride;
};

// The 4× convolutional subsampling front end (see above): features [B, T, n_mels] → [B, T', d_model].
class ConvSubsampling : public torch::nn::Module {
 public:
  ConvSubsampling(const SpeechModelConfig& speech, int64_t d_model);
  at::Tensor forward(const at::Tensor& features) const;
  std::shared_ptr<Conv2d> conv1, conv2;  // "conv1", "conv2"
  std::shared_ptr<Linear> proj;          // "proj" [d, C·F']

 private:
  ConvActivation activation_;
};

class SpeechEncoder : public Model {
 public:
  SpeechEncoder(const ModelConfig& cfg, const AttentionConfig& attn);
  // Hidden states [B, T', d] → CTC logits [B, T', vocab_size].
  at::Tensor logits(const at::Tensor& hidden) const override;
  // SpeechModelConfig::positions elementwise: encoder positions of utterances of `frame_lengths` frames (int64).
  static at::Tensor output_lengths(const at::Tensor& frame_lengths);

 protected:
  // in.features [B, T, n_mels] → front end + positions. in.lengths (positions, not frames) is the blocks' mask.
  at::Tensor embed(const ModelInputs& in) override;

 private:
  std::shared_ptr<ConvSubsampling> front_end_;  // "front_end"
  std::shared_ptr<Embedding> pos_embed_;        // "pos_embed", positions: learned only
  std::shared_ptr<Linear> head_;                // "ctc_head"
};

// The 1-D sinusoidal table [length, d] of Vaswani et al.: channel 2k is sin(p·ω_k), 2k + 1 is cos(p·ω_k), with
// ω_k = 10000^(−2k/d). float32.
at::Tensor sincos_1d_positions(int64_t length, int64_t d);

// CTC negative log-likelihood summed over the utterances of a batch (blank id 0): log_softmax of `logits`
// [B, T', V] in float32, LibTorch's ctc_loss with reduction none and zero_infinity (an utterance whose targets cannot
// be aligned in its positions -- fewer positions than labels plus repeats -- contributes 0 and no gradient),
// summed. `positions` [B] and `target_lengths` [B] are host arrays (CTC's lengths live on the host: passing them as
// device tensors would cost a device sync); `targets` holds every utterance's ids concatenated (int64, on the
// logits' device). Returns a float32 0-dim tensor on the logits' device.
at::Tensor ctc_loss_sum(const at::Tensor& logits, at::IntArrayRef positions, const at::Tensor& targets,
                        at::IntArrayRef target_lengths);

// Whether CTC can align `target` (ids) in `positions` frames: positions ≥ labels + adjacent repeats (a blank must
// separate equal neighbours). ctc_loss_sum scores the others 0.
bool ctc_feasible(const int64_t* target, int64_t target_length, int64_t positions);

}  // namespace sigtrain::models
