#include "trainer/loop/graph_shapes.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sigtrain::trainer {

namespace {

// Shapes that never recur (a task with free-form lengths) would grow the list of first sightings without bound.
constexpr size_t kSeenOnceKept = 256;

}  // namespace

GraphShapePolicy::GraphShapePolicy(int64_t warmup_micro_steps, int64_t max_shapes)
    : warmup_micro_steps_(warmup_micro_steps), max_shapes_(max_shapes) {
  if (warmup_micro_steps < 0 || max_shapes < 1)
    throw std::invalid_argument("GraphShapePolicy: warm-up " + std::to_string(warmup_micro_steps) +
                                " and max shapes " + std::to_string(max_shapes) + " (expected >= 0 and >= 1)");
}

GraphShapePolicy::Decision GraphShapePolicy::next(const ShapeKey& key, bool eligible) {
  ++calls_;
  if (!eligible) return {};
  if (auto it = std::find(captured_.begin(), captured_.end(), key); it != captured_.end())
    return {Action::kReplay, static_cast<size_t>(it - captured_.begin())};
  auto seen = std::find(seen_once_.begin(), seen_once_.end(), key);
  if (calls_ <= warmup_micro_steps_ || seen == seen_once_.end()) {
    if (seen == seen_once_.end()) {
      seen_once_.push_back(key);
      if (seen_once_.size() > kSeenOnceKept) seen_once_.pop_front();
    }
    return {};
  }
  if (static_cast<int64_t>(captured_.size()) >= max_shapes_) {
    turned_away_ = true;
    return {};
  }
  seen_once_.erase(seen);
  captured_.push_back(key);
  return {Action::kCapture, captured_.size() - 1};
}

}  // namespace sigtrain::trainer
