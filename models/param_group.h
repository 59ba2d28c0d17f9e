#pragma once
// Parameter groups, declared by the module that registers each parameter (models/transformer.h: Linear takes its
// group; Embedding, Norm and LayerScale have theirs). Weight decay (trainer/optim), the optimizer's groups and the
// monitor's per-group buckets (trainer/instruments) all read this declaration, never the parameter's name.
#include <array>
#include <string>

namespace sigtrain::models {

// input: projections of raw inputs into the model width (the ViT's patch embedding, a speech front end): matrices
// like any linear layer's, decayed; embedding: lookup tables and learned positions/CLS tokens, not decayed.
enum class ParamGroup { kAttnQkv, kAttnOut, kMlp, kNorm, kLayerScale, kEmbedding, kInput, kHead, kOther };

// Every group in reporting order (the monitor's bucket order).
inline constexpr std::array<ParamGroup, 9> kAllParamGroups = {
    ParamGroup::kAttnQkv,    ParamGroup::kAttnOut,   ParamGroup::kMlp,   ParamGroup::kNorm, ParamGroup::kLayerScale,
    ParamGroup::kEmbedding,  ParamGroup::kInput,     ParamGroup::kHead,  ParamGroup::kOther};

// attn_qkv | attn_out | mlp | norm | layerscale | embedding | input | head | other (metrics.h5/metrics.jsonl names).
const char* to_string(ParamGroup group);

// The default weight-decay rule: decay the matrices of linear layers (attn_qkv, attn_out, mlp, input, head,
// other); never biases, norms, LayerScale or embeddings. optim.decay_* switch the exceptions
// (trainer/optim/optimizer.cpp).
bool decays_by_default(ParamGroup group, bool is_bias);

}  // namespace sigtrain::models
