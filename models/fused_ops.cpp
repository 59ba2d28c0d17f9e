#include "models/fused_ops.h"

namespace sigtrain::models {
namespace {

FusedChoice parse_choice(config::SectionReader& r, const std::string& key) {
  const std::string v = r.get_enum(key, "auto", {"auto", "on", "off"});
  return v == "on" ? FusedChoice::kOn : v == "off" ? FusedChoice::kOff : FusedChoice::kAuto;
}

bool resolve(FusedChoice choice, bool possible, const std::string& key) {
  if (choice == FusedChoice::kOn && !possible)
    throw config::ConfigError("fused_ops." + key + ": on needs a CUDA device and a build with the CUDA kernels " +
                              (fused_ops_built() ? "(this run is not on CUDA)" : "(this build has none)") +
                              "; set fused_ops." + key + ": auto or off");
  return choice == FusedChoice::kOn || (choice == FusedChoice::kAuto && possible);
}

}  // namespace

FusedOpsConfig FusedOpsConfig::parse(config::SectionReader& r) {
  FusedOpsConfig c;
  c.cross_entropy = parse_choice(r, "cross_entropy");
  c.head_loss = parse_choice(r, "head_loss");
  c.norm = parse_choice(r, "norm");
  c.add_norm = parse_choice(r, "add_norm");
  c.residual_bias = parse_choice(r, "residual_bias");
  c.mlp = parse_choice(r, "mlp");
  c.rope = parse_choice(r, "rope");
  c.packed_qkv = parse_choice(r, "packed_qkv");
  c.linear = parse_choice(r, "linear");
  c.mlp_recompute = r.get_bool("mlp_recompute", false);
  c.gemm_algo = r.get_enum("gemm_algo", c.gemm_algo, {"auto", "heuristic", "timed"});
  return c;
}

bool fused_ops_built() {
#ifdef SIGTRAIN_HAVE_FUSED_OPS
  return true;
#else
  return false;
#endif
}

FusedOps resolve_fused_ops(const FusedOpsConfig& cfg, bool cuda, int64_t processes) {
  const bool possible = cuda && fused_ops_built();
  FusedOps ops;
  ops.cross_entropy = resolve(cfg.cross_entropy, possible, "cross_entropy");
  if (cfg.head_loss == FusedChoice::kOn && possible && !ops.cross_entropy)
    throw config::ConfigError("fused_ops.head_loss: on needs the fused cross-entropy, but fused_ops.cross_entropy is "
                              "off; set fused_ops.cross_entropy: auto, or fused_ops.head_loss: auto or off");
  ops.head_loss = resolve(cfg.head_loss, possible, "head_loss") && ops.cross_entropy;
  ops.norm = resolve(cfg.norm, possible, "norm");
  if (cfg.add_norm == FusedChoice::kOn && possible && !ops.norm)
    throw config::ConfigError("fused_ops.add_norm: on needs the fused norm, but fused_ops.norm is off; set "
                              "fused_ops.norm: auto, or fused_ops.add_norm: auto or off");
  ops.add_norm = resolve(cfg.add_norm, possible, "add_norm") && ops.norm;
  if (cfg.residual_bias == FusedChoice::kOn && possible && !ops.add_norm)
    throw config::ConfigError("fused_ops.residual_bias: on needs the fused add + norm, but fused_ops.add_norm is off; "
                              "set fused_ops.add_norm (and fused_ops.norm): auto, or fused_ops.residual_bias: auto or "
                              "off");
  ops.residual_bias = resolve(cfg.residual_bias, possible, "residual_bias") && ops.add_norm;
  ops.mlp = resolve(cfg.mlp, possible, "mlp");
  ops.rope = resolve(cfg.rope, possible, "rope");
  ops.packed_qkv = resolve(cfg.packed_qkv, possible, "packed_qkv");
  ops.linear = resolve(cfg.linear, possible, "linear");
  ops.mlp_recompute = cfg.mlp_recompute && ops.mlp;
  if (cfg.gemm_algo == "timed" && !possible)
    throw config::ConfigError(std::string("fused_ops.gemm_algo: timed needs a CUDA device and a build with the CUDA "
                                          "kernels ") +
                              (fused_ops_built() ? "(this run is not on CUDA)" : "(this build has none)") +
                              "; set fused_ops.gemm_algo: auto or heuristic");
  ops.gemm_algo_timed = (ops.mlp || ops.linear) &&
                        (cfg.gemm_algo == "timed" || (cfg.gemm_algo == "auto" && possible && processes == 1));
  return ops;
}

}  // namespace sigtrain::models
