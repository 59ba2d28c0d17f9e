#pragma once
// The `mlm` config section: the masked-token objective of the bidirectional encoder on text (model.arch:
// encoder). Torch-free. docs/stability.md §Masked-token objective.
//
//   mlm:
//     mask_fraction: 0.15        # probability that a (non-special, non-padding) token is selected
//     replace_with_mask: 0.8     # of the selected: replaced by [MASK]
//     replace_with_random: 0.1   # of the selected: replaced by a random token; the rest stay unchanged
//     length_jitter: 0.0         # each training sequence keeps T − floor(u·jitter·T) tokens (u ~ U[0,1)), the rest
//                                # is key padding (ModelInputs.lengths); 0 = every sequence full length
//     val_length_jitter: -1      # the same for the fixed validation set; −1 = length_jitter
#include <cstdint>

#include "common/config.h"

namespace sigtrain::trainer {

struct MlmConfig {
  double mask_fraction = 0.15;
  double replace_with_mask = 0.8;
  double replace_with_random = 0.1;
  double length_jitter = 0.0;
  double val_length_jitter = -1.0;

  double val_jitter() const { return val_length_jitter < 0 ? length_jitter : val_length_jitter; }
  static MlmConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
