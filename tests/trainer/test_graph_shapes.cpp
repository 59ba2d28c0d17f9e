// Which micro-batches train.cuda_graphs captures and replays (trainer/loop/graph_shapes.h): the rule alone, on any
// machine; the graphs themselves run in test_trainer_gpu (CudaGraphsGpu).
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "trainer/loop/graph_shapes.h"

using sigtrain::trainer::GraphShapePolicy;
using sigtrain::trainer::ShapeKey;
using Action = GraphShapePolicy::Action;

namespace {

// The actions for a sequence of shapes, all eligible; a capture or replay as "c<i>" / "r<i>", eager as "e".
std::vector<std::string> actions(GraphShapePolicy& p, const std::vector<ShapeKey>& shapes) {
  std::vector<std::string> out;
  for (const ShapeKey& k : shapes) {
    const auto d = p.next(k, true);
    // (Built with append, not "c" + to_string(...): GCC 12 warns a false -Wstringop-overflow on the latter.)
    std::string action = d.action == Action::kEager ? "e" : d.action == Action::kCapture ? "c" : "r";
    if (d.action != Action::kEager) action.append(std::to_string(d.graph));
    out.push_back(action);
  }
  return out;
}

const ShapeKey kA{32, 256}, kB{32, 448}, kC{12, 256};

}  // namespace

TEST(GraphShapes, OneShapeIsCapturedAfterTheWarmUpAndThenReplayed) {
  // An LM: the same shape every micro-step; 3 eager ones, the 4th captured (as the one-graph version did).
  GraphShapePolicy p(3, 16);
  EXPECT_EQ(actions(p, {kA, kA, kA, kA, kA, kA}), (std::vector<std::string>{"e", "e", "e", "c0", "r0", "r0"}));
  EXPECT_EQ(p.captured(), 1u);
  EXPECT_FALSE(p.turned_away());
}

TEST(GraphShapes, EachShapeIsCapturedOnItsSecondSightingAfterTheWarmUp) {
  GraphShapePolicy p(1, 16);
  // A is seen in the warm-up, so its next sighting captures it; B and C run eagerly once first.
  EXPECT_EQ(actions(p, {kA, kB, kA, kC, kB, kA, kC, kB}),
            (std::vector<std::string>{"e", "e", "c0", "e", "c1", "r0", "c2", "r1"}));
  EXPECT_EQ(p.captured(), 3u);
}

TEST(GraphShapes, ShapesPastTheCapRunEagerly) {
  GraphShapePolicy p(0, 1);
  EXPECT_EQ(actions(p, {kA, kA, kB, kB, kB, kA}), (std::vector<std::string>{"e", "c0", "e", "e", "e", "r0"}));
  EXPECT_EQ(p.captured(), 1u);
  EXPECT_TRUE(p.turned_away());
}

TEST(GraphShapes, IneligibleMicroBatchesRunEagerlyAndDoNotCountAsSightings) {
  GraphShapePolicy p(0, 4);
  // Attention statistics collected on A's first two micro-batches: neither warms A for a capture.
  EXPECT_EQ(p.next(kA, false).action, Action::kEager);
  EXPECT_EQ(p.next(kA, false).action, Action::kEager);
  EXPECT_EQ(p.next(kA, true).action, Action::kEager);
  EXPECT_EQ(p.next(kA, true).action, Action::kCapture);
  // A captured shape still runs eagerly when the micro-batch is not eligible.
  EXPECT_EQ(p.next(kA, false).action, Action::kEager);
  EXPECT_EQ(p.next(kA, true).action, Action::kReplay);
}

TEST(GraphShapes, RefusesANegativeWarmUpOrNoShapes) {
  EXPECT_THROW(GraphShapePolicy(-1, 4), std::invalid_argument);
  EXPECT_THROW(GraphShapePolicy(3, 0), std::invalid_argument);
}
