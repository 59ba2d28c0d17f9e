#include "trainer/instruments/gpu_gaps.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace sigtrain::trainer {

std::vector<GpuGapGroup> gpu_idle_gaps(std::vector<GpuInterval> intervals, uint64_t min_gap_ns) {
  std::sort(intervals.begin(), intervals.end(),
            [](const GpuInterval& a, const GpuInterval& b) { return a.start_ns < b.start_ns; });
  std::map<std::tuple<std::string, std::string, std::string>, GpuGapGroup> groups;
  const GpuInterval* last_end = nullptr;  // the interval that ends the current busy stretch latest
  for (const GpuInterval& iv : intervals) {
    if (last_end != nullptr && iv.start_ns > last_end->end_ns) {
      const uint64_t gap = iv.start_ns - last_end->end_ns;
      if (gap >= min_gap_ns) {
        GpuGapGroup& g = groups[{last_end->kernel, iv.kernel, iv.phase}];
        g.before = last_end->kernel;
        g.after = iv.kernel;
        g.phase = iv.phase;
        g.ns += static_cast<double>(gap);
        ++g.count;
      }
    }
    if (last_end == nullptr || iv.end_ns > last_end->end_ns) last_end = &iv;
  }
  std::vector<GpuGapGroup> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  // Largest first; equal ones in the map's (name) order, so the table is the same from run to run.
  std::stable_sort(out.begin(), out.end(), [](const GpuGapGroup& a, const GpuGapGroup& b) { return a.ns > b.ns; });
  return out;
}

}  // namespace sigtrain::trainer
