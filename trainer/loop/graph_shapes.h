#pragma once
// Which micro-batches train.cuda_graphs captures and replays (trainer/loop/micro_step_graph.h): one captured graph
// per input shape, up to train.cuda_graphs_max_shapes of them. Torch-free, so the rule is tested on any machine
// (tests/trainer/test_graph_shapes.cpp).
//
// The rule: the first `warmup_micro_steps` micro-steps run eagerly (cuBLAS handles, autotuning and lazily made
// tensors are created there, not inside a capture); after that, a shape is captured the second time an eligible
// micro-batch of it comes (its first run, eager, builds what that shape needs: cuDNN plans, workspaces) and
// replayed from then on. Shapes past the cap run eagerly. A task with a few recurring shapes (length buckets,
// their last partial batches) so replays nearly every micro-step; one with a single shape (an LM) captures on its
// 4th micro-step, as the one-graph version did.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace sigtrain::trainer {

// A micro-batch's input shapes, flattened (each input's presence, dtype, device, rank and sizes, in a fixed
// order): two micro-batches replay the same graph exactly when their keys are equal.
using ShapeKey = std::vector<int64_t>;

class GraphShapePolicy {
 public:
  enum class Action { kEager, kCapture, kReplay };
  struct Decision {
    Action action = Action::kEager;
    size_t graph = 0;  // kCapture: the index the new graph gets (the number captured before); kReplay: which one
  };

  GraphShapePolicy(int64_t warmup_micro_steps, int64_t max_shapes);

  // The decision for the next micro-batch. `eligible` false (attention statistics collected, host-side lengths)
  // runs it eagerly without counting it as a sighting of its shape. A kCapture counts the shape as captured.
  Decision next(const ShapeKey& key, bool eligible);

  size_t captured() const { return captured_.size(); }
  int64_t max_shapes() const { return max_shapes_; }
  // True once the cap has turned away a shape seen twice (for a single log line).
  bool turned_away() const { return turned_away_; }

 private:
  int64_t warmup_micro_steps_;
  int64_t max_shapes_;
  int64_t calls_ = 0;
  bool turned_away_ = false;
  std::vector<ShapeKey> captured_;  // by graph index
  std::deque<ShapeKey> seen_once_;  // shapes run eagerly once and not captured yet (the most recent ones)
};

}  // namespace sigtrain::trainer
