#pragma once
// Where the GPU waits: the gaps between its kernels in a profiled window, grouped by the two kernels around each
// gap and the phase of the step that launched the second one (StepProfiler's "GPU idle by place" table). The idle
// total alone says how much; this says after what and before what, which names the host work or sync to remove.
// Torch-free: the profiler passes plain intervals.
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct GpuInterval {
  uint64_t start_ns = 0, end_ns = 0;
  std::string kernel;  // the name the table shows
  std::string phase;   // the step phase that launched it
};

struct GpuGapGroup {
  std::string before, after;  // the kernel that ended the busy stretch, the one that started the next
  std::string phase;          // the phase that launched `after`
  double ns = 0;              // the group's summed idle time
  int64_t count = 0;          // its gaps
};

// Gaps between the union of `intervals` (overlapping kernels of concurrent streams count once), grouped by (before,
// after, phase) and sorted by idle time, largest first. Gaps shorter than `min_gap_ns` are left out.
std::vector<GpuGapGroup> gpu_idle_gaps(std::vector<GpuInterval> intervals, uint64_t min_gap_ns = 0);

}  // namespace sigtrain::trainer
