// The step profiler (profile section, trainer/instruments/step_profiler.h) on a tiny CPU run: the window it covers,
// the host time of each phase of the step, the files it writes, and that profiling leaves training unchanged; the
// grouping of the GPU's idle gaps by place.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/trainer/training_fixture.h"
#include "trainer/instruments/gpu_gaps.h"

namespace fs = std::filesystem;
using namespace sigtrain;

TEST(StepProfile, WritesTheBreakdownOfTheWindowAndLeavesTrainingUnchanged) {
  const fs::path dir = fixture::fresh_dir("step_profile");
  ASSERT_EQ(fixture::train_tiny(dir, "plain", {"checkpoint.every=0"}), 0);
  ASSERT_EQ(fixture::train_tiny(dir, "profiled", {"checkpoint.every=0", "profile.start_step=3", "profile.steps=4"}),
            0);
  fixture::expect_same_summary(dir / "plain", dir / "profiled");  // bit for bit: the profiler only observes

  const fs::path profile = dir / "profiled" / "profile";
  const auto summary = fixture::read_json(profile / "summary.json");
  EXPECT_EQ(summary["start_step"], 3);
  EXPECT_EQ(summary["steps"], 4);
  EXPECT_GT(summary["wall_ms_per_step"].get<double>(), 0.0);
  // Every phase the step runs on the host took time; on CPU there are no GPU kernels.
  for (const char* phase : {"data", "forward", "backward", "grad_norm", "optimizer"})
    EXPECT_GT(summary["host_ms_per_step_by_phase"].value(phase, 0.0), 0.0) << phase;
  EXPECT_EQ(summary["gpu_kernels_per_step"].get<double>(), 0.0);
  // The phases happen inside the window: together they are most of the wall time, never more than it.
  double phases_ms = 0;
  for (const auto& [phase, ms] : summary["host_ms_per_step_by_phase"].items()) phases_ms += ms.get<double>();
  EXPECT_LE(phases_ms, summary["wall_ms_per_step"].get<double>() * 1.001);
  EXPECT_GT(phases_ms, 0.5 * summary["wall_ms_per_step"].get<double>());
  EXPECT_NE(fixture::read_text(profile / "summary.md").find("| forward |"), std::string::npos);
  EXPECT_NE(fixture::read_text(profile / "trace.json").find("traceEvents"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "plain" / "profile"));  // off by default
}

// The idle-gap grouping (trainer/instruments/gpu_gaps.h) on intervals made by hand: overlapping kernels of two
// streams count once, each gap goes to the kernel that ended the busy stretch and the one that started the next,
// repeats of the same place add up, and the largest group comes first.
TEST(GpuIdleGaps, GroupsGapsByTheKernelsAroundThem) {
  using trainer::GpuInterval;
  const std::vector<GpuInterval> intervals = {
      {0, 100, "gemm", "forward"},
      {50, 120, "norm", "forward"},         // overlaps gemm: ends the stretch at 120
      {150, 200, "attn", "forward"},        // gap 30 after norm
      {1000, 1100, "adam", "optimizer"},    // gap 800 after attn
      {1100, 1150, "gemm", "forward"},      // touching: no gap
      {1200, 1300, "attn", "forward"},      // gap 50 after gemm
      {1320, 1400, "attn", "forward"},      // gap 20 after attn
      {1415, 1420, "attn", "forward"},      // gap 15 after attn: same place as the one above
  };
  const auto groups = trainer::gpu_idle_gaps(intervals);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].before, "attn");
  EXPECT_EQ(groups[0].after, "adam");
  EXPECT_EQ(groups[0].phase, "optimizer");
  EXPECT_EQ(groups[0].ns, 800.0);
  EXPECT_EQ(groups[1].before, "gemm");
  EXPECT_EQ(groups[1].ns, 50.0);
  EXPECT_EQ(groups[2].before, "attn");
  EXPECT_EQ(groups[2].after, "attn");
  EXPECT_EQ(groups[2].ns, 35.0);
  EXPECT_EQ(groups[2].count, 2);
  EXPECT_EQ(groups[3].before, "norm");  // not gemm: norm ended the overlapping stretch
  EXPECT_EQ(groups[3].ns, 30.0);
  // A threshold leaves the short gaps out.
  EXPECT_EQ(trainer::gpu_idle_gaps(intervals, 40).size(), 2u);
}
