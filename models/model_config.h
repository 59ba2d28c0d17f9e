#pragma once
// Model and attention configuration: the `model` and `attention` config sections.
//
// Torch-free on purpose (trainer, app and tests include it cheaply). Every key is read through a
// config::SectionReader, which checks types/ranges/enums, records the resolved value and marks the key consumed.
// docs/models.md lists every key with its type, default and meaning.
#include <cstdint>
#include <optional>
#include <string>

namespace sigtrain::config {
class SectionReader;
}

namespace sigtrain::models {

enum class Arch { kDecoder, kEncoder, kVit, kAsr };
enum class NormKind { kLayerNorm, kRMSNorm };
enum class NormPlacement { kPre, kHybrid, kPost };
// sincos2d: vision only; sincos: the 1-D sinusoidal table (Vaswani et al.), speech (arch: asr) only
enum class PositionKind { kLearned, kRope, kAlibi, kNone, kSinCos2d, kSinCos };
enum class VisionPooling { kCls, kMean };
enum class MlpKind { kGelu, kSwiGLU };
enum class ConvActivation { kRelu, kGelu };

enum class AttentionKind { kSoftmax, kSigmoid };
// The sigmoid's additive score bias b: −log(n) with n the valid key count of each sequence, or a constant.
enum class SigmoidBiasMode { kNegLogN, kConstant };
enum class SigmoidApprox { kTanh, kExact };

const char* to_string(Arch);
const char* to_string(NormKind);
const char* to_string(NormPlacement);
const char* to_string(PositionKind);
const char* to_string(MlpKind);
const char* to_string(AttentionKind);
const char* to_string(SigmoidApprox);
const char* to_string(VisionPooling);
const char* to_string(ConvActivation);

// Sub-section `model.vision` (arch: vit only): the image side of the vision transformer. 0 = from the data.
struct VisionModelConfig {
  int64_t image_size = 0;    // pixels per side the model is built for (positions are interpolated for others)
  int64_t patch_size = 16;
  int64_t channels = 0;      // input channels (1 grey, 3 RGB)
  int64_t num_classes = 0;   // classifier outputs
  VisionPooling pool = VisionPooling::kCls;  // cls: a CLS token's final state | mean: mean over the patch tokens

  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
  // Sequence length of one image: the patches, plus the CLS token with pool: cls.
  int64_t tokens() const { return num_patches() + (pool == VisionPooling::kCls ? 1 : 0); }
};

// Sub-section `model.speech` (arch: asr only): the speech encoder's convolutional front end (models/asr_encoder.h).
// Two 3×3 convolutions with stride 2 and no padding, over (time, mel), as ESPnet's Conv2dSubsampling: 4× fewer
// positions than feature frames. 0 = from the data.
struct SpeechModelConfig {
  int64_t n_mels = 0;          // mel bins per feature frame (0 = data.features.n_mels)
  int64_t conv_channels = 256; // channels of both convolutions
  ConvActivation conv_activation = ConvActivation::kRelu;

  // Output length of one 3×3 stride-2 convolution without padding: floor((n − 3) / 2) + 1 = floor((n − 1) / 2),
  // 0 below 3.
  static int64_t conv_out(int64_t n) { return n < 3 ? 0 : (n - 3) / 2 + 1; }
  // Encoder positions of an utterance of `frames` feature frames: conv_out(conv_out(frames)), ≈ frames / 4.
  static int64_t positions(int64_t frames) { return conv_out(conv_out(frames)); }
  // Input width of the projection to d_model: channels × the mel axis after both convolutions.
  int64_t projection_in() const { return conv_channels * conv_out(conv_out(n_mels)); }
};

// Section `model`.
struct ModelConfig {
  Arch arch = Arch::kDecoder;
  int64_t vocab_size = 0;  // 0 = taken from the data/tokenizer (the trainer fills it in before build_model)
  int64_t n_layer = 12;
  int64_t d_model = 768;
  int64_t n_head = 12;
  int64_t n_kv_head = 0;   // K/V heads; 0 = n_head (plain multi-head attention); fewer = GQA/MQA. parse() fills it
  int64_t d_ff = 0;        // 0 = derived, see ffn_dim()
  int64_t max_seq_len = 1024;
  NormKind norm = NormKind::kRMSNorm;
  double norm_eps = 1e-5;
  NormPlacement norm_placement = NormPlacement::kPre;
  bool qk_norm = false;
  std::optional<double> layer_scale;  // nullopt = no LayerScale; else the init value of the per-channel scale
  PositionKind positions = PositionKind::kRope;
  double rope_theta = 10000.0;
  MlpKind mlp = MlpKind::kSwiGLU;
  bool bias = false;            // biases in the linear layers (and LayerNorm's shift)
  bool tie_embeddings = true;   // output head shares the token embedding matrix
  double init_std = 0.02;       // truncated normal (±2σ) for linear layers and embeddings
  bool scaled_init = true;      // residual output projections (attn out, MLP down) use init_std/√(2·n_layer)
  double dropout = 0.0;         // on embeddings and on each residual branch output (not on attention weights)
  bool value_input = false;     // encoder only: a float value per token, added through a small projection
  double drop_path = 0.0;       // stochastic depth: residual branch of block i dropped per sample with rate
                                // drop_path · i / (n_layer − 1) during training (timm's linear rule)
  VisionModelConfig vision;     // arch: vit only
  SpeechModelConfig speech;     // arch: asr only

  int64_t head_dim() const { return d_model / n_head; }
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  // d_ff, or the derived width: 4·d for gelu; 8/3·d rounded up to a multiple of 64 for swiglu.
  int64_t ffn_dim() const;
  bool causal() const { return arch == Arch::kDecoder; }
  // Stochastic-depth rate of block `layer` (0 when drop_path is 0).
  double drop_path_at(int64_t layer) const {
    return n_layer > 1 ? drop_path * static_cast<double>(layer) / static_cast<double>(n_layer - 1) : drop_path;
  }

  // Reads section `model` (pass SectionReader(tree, "model")). Throws config::ConfigError naming the key.
  static ModelConfig parse(config::SectionReader& reader);
};

// Section `attention`.
struct AttentionConfig {
  AttentionKind kind = AttentionKind::kSigmoid;
  SigmoidBiasMode bias_mode = SigmoidBiasMode::kNegLogN;  // sigmoid only; ignored for softmax (shift-invariant)
  double bias_value = 0.0;                                // when bias_mode == kConstant
  std::string backend = "math";                           // math | sdpa | fused
  SigmoidApprox sigmoid_approx = SigmoidApprox::kTanh;    // passed to the fused kernel; math/sdpa are exact
  std::optional<double> scale;                            // nullopt = 1/√d_head

  // Reads section `attention`. Cross-checks (e.g. sdpa with sigmoid) fail naming the key.
  static AttentionConfig parse(config::SectionReader& reader);
};

// Checks that need both sections, before anything is built: the attention backend's rules for this head dim
// (the backend states them: models/attention.h). Throws config::ConfigError naming the key.
void check_attention_fits_model(const ModelConfig& model, const AttentionConfig& attention);

// Everything a model build needs (vocab_size filled in, shapes consistent, the backend's rules). Throws
// std::invalid_argument with the key path in the message.
void validate(const ModelConfig& model, const AttentionConfig& attention);

// The registered attention backends and their rules, for the config readers (defined with the registry in
// attention.cpp, so this header stays free of ATen): empty when `backend` runs `kind` at `head_dim` (0 = not known
// yet), else why not; an unknown name says which are registered.
std::string attention_backend_rule_violation(const std::string& backend, AttentionKind kind, int64_t head_dim);

}  // namespace sigtrain::models
