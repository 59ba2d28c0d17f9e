#include "models/param_group.h"

namespace sigtrain::models {

const char* to_string(ParamGroup group) {
  switch (group) {
    case ParamGroup::kAttnQkv: return "attn_qkv";
    case ParamGroup::kAttnOut: return "attn_out";
    case ParamGroup::kMlp: return "mlp";
    case ParamGroup::kNorm: return "norm";
    case ParamGroup::kLayerScale: return "layerscale";
    case ParamGroup::kEmbedding: return "embedding";
    case ParamGroup::kInput: return "input";
    case ParamGroup::kHead: return "head";
    case ParamGroup::kOther: return "other";
  }
  return "other";
}

bool decays_by_default(ParamGroup group, bool is_bias) {
  if (is_bias) return false;
  return group != ParamGroup::kNorm && group != ParamGroup::kLayerScale && group != ParamGroup::kEmbedding;
}

}  // namespace sigtrain::models
