// The step profiler (profile section, trainer/instruments/step_profiler.h) on a tiny CPU run: the window it covers,
// the host time of each phase of the step, the files it writes, and that profiling leaves training unchanged.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/trainer/training_fixture.h"

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
