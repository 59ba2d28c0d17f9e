#include "models/model_config.h"

#include <stdexcept>

#include "common/config.h"

namespace sigtrain::models {

const char* to_string(Arch a) {
  switch (a) {
    case Arch::kDecoder: return "decoder";
    case Arch::kEncoder: return "encoder";
    case Arch::kVit: return "vit";
    case Arch::kAsr: return "asr";
  }
  return "decoder";
}
const char* to_string(VisionPooling p) { return p == VisionPooling::kCls ? "cls" : "mean"; }
const char* to_string(ConvActivation a) { return a == ConvActivation::kRelu ? "relu" : "gelu"; }
const char* to_string(NormKind n) { return n == NormKind::kLayerNorm ? "layernorm" : "rmsnorm"; }
const char* to_string(NormPlacement p) {
  switch (p) {
    case NormPlacement::kPre: return "pre";
    case NormPlacement::kHybrid: return "hybrid";
    case NormPlacement::kPost: return "post";
  }
  return "?";
}
const char* to_string(PositionKind p) {
  switch (p) {
    case PositionKind::kLearned: return "learned";
    case PositionKind::kRope: return "rope";
    case PositionKind::kAlibi: return "alibi";
    case PositionKind::kNone: return "none";
    case PositionKind::kSinCos2d: return "sincos2d";
    case PositionKind::kSinCos: return "sincos";
  }
  return "?";
}
const char* to_string(MlpKind m) { return m == MlpKind::kGelu ? "gelu" : "swiglu"; }
const char* to_string(AttentionKind k) { return k == AttentionKind::kSoftmax ? "softmax" : "sigmoid"; }
const char* to_string(SigmoidApprox a) { return a == SigmoidApprox::kTanh ? "tanh" : "exact"; }

int64_t ModelConfig::ffn_dim() const {
  if (d_ff > 0) return d_ff;
  if (mlp == MlpKind::kGelu) return 4 * d_model;
  const int64_t raw = (8 * d_model + 2) / 3;  // ceil(8/3 · d)
  return (raw + 63) / 64 * 64;
}

ModelConfig ModelConfig::parse(config::SectionReader& r) {
  ModelConfig c;
  const std::string arch = r.get_enum("arch", "decoder", {"decoder", "encoder", "vit", "asr"});
  c.arch = arch == "decoder"   ? Arch::kDecoder
           : arch == "encoder" ? Arch::kEncoder
           : arch == "vit"     ? Arch::kVit
                               : Arch::kAsr;
  c.vocab_size = r.get_int("vocab_size", 0, 0, int64_t{1} << 31);
  c.n_layer = r.get_int("n_layer", c.n_layer, 1, 1024);
  c.d_model = r.get_int("d_model", c.d_model, 1, 1 << 20);
  c.n_head = r.get_int("n_head", c.n_head, 1, 4096);
  if (c.d_model % c.n_head != 0)
    r.fail("d_model", "d_model (" + std::to_string(c.d_model) + ") must be divisible by n_head (" +
                          std::to_string(c.n_head) + ")");
  c.n_kv_head = r.get_int("n_kv_head", c.n_head, 1, 4096);
  if (c.n_head % c.n_kv_head != 0)
    r.fail("n_kv_head", "n_head (" + std::to_string(c.n_head) + ") must be divisible by n_kv_head (" +
                            std::to_string(c.n_kv_head) + ")");
  c.d_ff = r.get_int("d_ff", 0, 0, 1 << 24);
  c.max_seq_len = r.get_int("max_seq_len", c.max_seq_len, 1, int64_t{1} << 24);
  c.norm = r.get_enum("norm", "rmsnorm", {"layernorm", "rmsnorm"}) == "layernorm" ? NormKind::kLayerNorm
                                                                                    : NormKind::kRMSNorm;
  c.norm_eps = r.get_double("norm_eps", c.norm_eps, 0.0, 1.0);
  const std::string placement = r.get_enum("norm_placement", "pre", {"pre", "hybrid", "post"});
  c.norm_placement = placement == "pre"      ? NormPlacement::kPre
                     : placement == "hybrid" ? NormPlacement::kHybrid
                                             : NormPlacement::kPost;
  c.qk_norm = r.get_bool("qk_norm", c.qk_norm);
  c.layer_scale = r.get_optional_double("layer_scale", std::nullopt, 0.0, 1e6);
  const std::string pos = r.get_enum("positions", c.arch == Arch::kVit ? "learned" : "rope",
                                     {"learned", "rope", "alibi", "none", "sincos2d", "sincos"});
  c.positions = pos == "learned"  ? PositionKind::kLearned
                : pos == "rope"   ? PositionKind::kRope
                : pos == "alibi"  ? PositionKind::kAlibi
                : pos == "sincos2d" ? PositionKind::kSinCos2d
                : pos == "sincos"   ? PositionKind::kSinCos
                                  : PositionKind::kNone;
  if (c.arch == Arch::kVit && (c.positions == PositionKind::kRope || c.positions == PositionKind::kAlibi))
    r.fail("positions", "a vision transformer takes learned | sincos2d | none (2-D patch positions)");
  if (c.arch != Arch::kVit && c.positions == PositionKind::kSinCos2d)
    r.fail("positions", "sincos2d is the vision transformer's 2-D table (arch: vit); use learned, rope or alibi");
  if (c.arch != Arch::kAsr && c.positions == PositionKind::kSinCos)
    r.fail("positions", "sincos is the speech encoder's 1-D table (arch: asr); use learned, rope or alibi");
  c.rope_theta = r.get_double("rope_theta", c.rope_theta, 1.0, 1e12);
  if (c.positions == PositionKind::kRope && c.head_dim() % 2 != 0)
    r.fail("positions", "rope needs an even head dimension (d_model / n_head = " + std::to_string(c.head_dim()) +
                            ")");
  c.mlp = r.get_enum("mlp", "swiglu", {"gelu", "swiglu"}) == "gelu" ? MlpKind::kGelu : MlpKind::kSwiGLU;
  c.bias = r.get_bool("bias", c.bias);
  c.tie_embeddings = r.get_bool("tie_embeddings", c.tie_embeddings);
  c.init_std = r.get_double("init_std", c.init_std, 0.0, 10.0);
  c.scaled_init = r.get_bool("scaled_init", c.scaled_init);
  c.dropout = r.get_double("dropout", c.dropout, 0.0, 1.0);
  if (c.dropout >= 1.0) r.fail("dropout", "expected a probability in [0, 1), got 1");
  c.value_input = r.get_bool("value_input", c.value_input);
  if (c.value_input && c.arch != Arch::kEncoder)
    r.fail("value_input", "value_input: true is supported only with arch: encoder");
  c.drop_path = r.get_double("drop_path", c.drop_path, 0.0, 1.0);
  if (c.drop_path >= 1.0) r.fail("drop_path", "expected a rate in [0, 1), got 1");
  if (c.arch == Arch::kVit) {
    config::SectionReader v = r.sub("vision");
    VisionModelConfig& vc = c.vision;
    vc.image_size = v.get_int("image_size", vc.image_size, 0, 1 << 16);
    vc.patch_size = v.get_int("patch_size", vc.patch_size, 1, 1 << 12);
    vc.channels = v.get_int("channels", vc.channels, 0, 64);
    vc.num_classes = v.get_int("num_classes", vc.num_classes, 0, 1 << 24);
    vc.pool = v.get_enum("pool", "cls", {"cls", "mean"}) == "cls" ? VisionPooling::kCls : VisionPooling::kMean;
    if (vc.image_size > 0 && vc.image_size % vc.patch_size != 0)
      v.fail("image_size", std::to_string(vc.image_size) + " is not a multiple of patch_size " +
                               std::to_string(vc.patch_size));
    if (c.positions == PositionKind::kSinCos2d && c.d_model % 4 != 0)
      r.fail("positions", "sincos2d needs d_model divisible by 4 (sin and cos for each of the two axes)");
  }
  if (c.arch == Arch::kAsr) {
    config::SectionReader s = r.sub("speech");
    SpeechModelConfig& sc = c.speech;
    sc.n_mels = s.get_int("n_mels", sc.n_mels, 0, 1024);
    if (sc.n_mels > 0 && sc.n_mels < 7)
      s.fail("n_mels", "the two stride-2 convolutions need at least 7 mel bins, got " + std::to_string(sc.n_mels));
    sc.conv_channels = s.get_int("conv_channels", sc.conv_channels, 1, 1 << 16);
    const std::string activation = s.get_enum("conv_activation", "relu", {"relu", "gelu"});
    sc.conv_activation = activation == "relu" ? ConvActivation::kRelu : ConvActivation::kGelu;
    if (c.positions == PositionKind::kSinCos && c.d_model % 2 != 0)
      r.fail("positions", "sincos needs an even d_model (a sin and a cos per frequency)");
  }
  return c;
}

AttentionConfig AttentionConfig::parse(config::SectionReader& r) {
  AttentionConfig c;
  c.kind = r.get_enum("kind", "sigmoid", {"softmax", "sigmoid"}) == "softmax" ? AttentionKind::kSoftmax
                                                                              : AttentionKind::kSigmoid;
  double number = 0.0;
  double* number_out = &number;
  // get_number_or_enum sets *number_out only for numbers; detect by comparing the returned word.
  const std::string bias = r.get_number_or_enum("bias", "-log_n", {"-log_n"}, number_out);
  if (bias == "-log_n") {
    c.bias_mode = SigmoidBiasMode::kNegLogN;
  } else {
    c.bias_mode = SigmoidBiasMode::kConstant;
    c.bias_value = number;
  }
  c.backend = r.get_string("backend", "math");
  c.sigmoid_approx =
      r.get_enum("sigmoid_approx", "tanh", {"tanh", "exact"}) == "tanh" ? SigmoidApprox::kTanh : SigmoidApprox::kExact;
  c.scale = r.get_optional_double("scale", std::nullopt, 0.0, 1e6);
  if (c.scale && *c.scale <= 0.0) r.fail("scale", "expected a number > 0 or null (= 1/sqrt(d_head))");
  if (const std::string why = attention_backend_rule_violation(c.backend, c.kind, 0); !why.empty())
    r.fail("backend", why);
  return c;
}

void validate(const ModelConfig& m, const AttentionConfig& a) {
  if (m.arch == Arch::kVit) {
    const VisionModelConfig& v = m.vision;
    if (v.image_size <= 0 || v.channels <= 0 || v.num_classes <= 0)
      throw std::invalid_argument("model.vision: image_size, channels and num_classes (0 = from the data) must be "
                                  "filled in before the model is built");
    if (v.image_size % v.patch_size != 0)
      throw std::invalid_argument("model.vision.image_size: must be a multiple of patch_size");
  } else if (m.arch == Arch::kAsr && m.speech.n_mels < 7) {
    throw std::invalid_argument("model.speech.n_mels: " + std::to_string(m.speech.n_mels) +
                                " (0 = from the data) must be filled in, and at least 7, before the model is built");
  }
  if (m.arch != Arch::kVit && m.vocab_size <= 0) {
    throw std::invalid_argument(
        "model.vocab_size: 0 (take from the data) must be filled in from the tokenizer before the model is built");
  }
  if (m.d_model % m.n_head != 0) throw std::invalid_argument("model.d_model: must be divisible by model.n_head");
  if (m.n_head % m.kv_heads() != 0) throw std::invalid_argument("model.n_kv_head: must divide model.n_head");
  if (m.positions == PositionKind::kRope && m.head_dim() % 2 != 0)
    throw std::invalid_argument("model.positions: rope needs an even head dimension");
  if (const std::string why = attention_backend_rule_violation(a.backend, a.kind, m.head_dim()); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
}

void check_attention_fits_model(const ModelConfig& m, const AttentionConfig& a) {
  if (m.d_model % m.n_head != 0) return;  // parse() already refused it
  if (const std::string why = attention_backend_rule_violation(a.backend, a.kind, m.head_dim()); !why.empty())
    throw config::ConfigError("attention.backend: " + why + " (model.d_model / model.n_head = " +
                              std::to_string(m.head_dim()) + ")");
}

}  // namespace sigtrain::models
