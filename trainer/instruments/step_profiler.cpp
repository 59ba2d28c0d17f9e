#include "trainer/instruments/step_profiler.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "trainer/instruments/gpu_gaps.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;
namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;

constexpr const char* kPhasePrefix = "sigtrain::";

PhaseScope::PhaseScope(const char* phase) {
  auto scope = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
  if (scope->isActive()) {
    scope->before(std::string(kPhasePrefix) + phase, c10::ArrayRef<const c10::IValue>{});
    scope_ = std::move(scope);
  }
}

PhaseScope::~PhaseScope() = default;  // RecordFunction's destructor ends the scope

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Kernel name → category. First match wins; the order puts specific names before generic ones (a fused AdamW is
// a multi-tensor kernel, attention kernels may contain "gemm" in a template name).
std::string kernel_category(const std::string& raw) {
  const std::string n = lower(raw);
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("sigmoid_attention") || has("sa_fwd") || has("sa_bwd") || has("flash") || has("fmha") ||
      has("cudnn") || has("attention") || has("sdpa"))
    return "attention";
  if (has("cross_entropy") || has("log_softmax") || has("softmax") || has("nll_loss")) return "loss";
  if (has("adam")) return "optimizer";
  if (has("lpnorm") || (has("norm") && has("multi_tensor"))) return "grad_norm";
  if (has("layer_norm") || has("layernorm") || has("rms_norm") || has("rmsnorm") || has("rowwisemoments") ||
      has("gammabeta") || has("norm_forward") || has("norm_backward") || has("norm_param_grad"))
    return "norm";
  if (has("gemm") || has("gemv") || has("cutlass") || has("xmma") || has("nvjet") || has("cublas") ||
      has("matmul") || has("splitk"))
    return "gemm";
  if (has("gelu") || has("silu") || has("tanh")) return "activation";
  if (has("embedding") || has("index") || has("gather") || has("scatter")) return "embedding/index";
  if (has("memcpy") || has("memset") || has("copy") || has("fill")) return "copy/fill";
  if (has("multi_tensor")) return "foreach";
  if (has("reduce")) return "reduce";
  if (has("elementwise") || has("vectorized") || has("unrolled") || has("functor")) return "elementwise";
  return "other";
}

struct KernelTotal {
  double ns = 0;
  int64_t count = 0;
  std::string category;
};

std::string fixed(double v, int digits = 2) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(digits) << v;
  return o.str();
}

// A kernel name as a markdown table cell: cut to max_chars, without the table's '|'.
std::string table_cell(const std::string& name, size_t max_chars) {
  std::string shown = name.substr(0, max_chars);
  std::replace(shown.begin(), shown.end(), '|', '/');
  return shown;
}

}  // namespace

StepProfiler::StepProfiler(const ProfileConfig& cfg, std::string out_dir, bool cuda)
    : cfg_(cfg), out_dir_(std::move(out_dir)), cuda_(cuda) {}

StepProfiler::~StepProfiler() {
  if (active_) prof::disableProfiler();  // a run that stopped inside the window: drop the partial trace
}

void StepProfiler::before_step(int64_t step) {
  if (cfg_.enabled() && !active_ && !finished_ && step == cfg_.start_step) start();
}

void StepProfiler::after_step(int64_t step) {
  if (active_ && step == cfg_.start_step + cfg_.steps - 1) stop_and_report();
}

void StepProfiler::start() {
  std::set<ActivityType> activities{ActivityType::CPU};
  if (cuda_) activities.insert(ActivityType::CUDA);
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  prof::prepareProfiler(config, activities);
  if (cuda_) torch::cuda::synchronize();  // the window starts with an idle GPU: its wall time is the steps' own
  prof::enableProfiler(config, activities);
  started_ = std::chrono::steady_clock::now();
  active_ = true;
}

void StepProfiler::stop_and_report() {
  if (cuda_) torch::cuda::synchronize();
  const double wall_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - started_).count();
  std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  active_ = false;
  finished_ = true;
  const double steps = static_cast<double>(cfg_.steps);

  // Phases: the step's user scopes on the host; CPU ops by correlation id (what a kernel links to).
  struct Span {
    uint64_t start, end;
    std::string phase;
  };
  std::vector<Span> phases;
  // A kernel's launch: the CUDA runtime call with the kernel's own correlation id (CUPTI), else the CPU op it
  // links to (Kineto's external id). The two id spaces are distinct: two maps.
  std::unordered_map<uint64_t, uint64_t> runtime_start_by_correlation, op_start_by_correlation;
  auto is_runtime_call = [](const std::string& n) {
    return n.rfind("cuda", 0) == 0 || (n.size() > 2 && n[0] == 'c' && n[1] == 'u' && std::isupper(n[2]));
  };
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CPU) continue;
    const std::string name = e.name();
    (is_runtime_call(name) ? runtime_start_by_correlation : op_start_by_correlation)
        .emplace(e.correlationId(), e.startNs());
    if (name.rfind(kPhasePrefix, 0) == 0)
      phases.push_back({e.startNs(), e.endNs(), name.substr(std::string(kPhasePrefix).size())});
  }
  std::sort(phases.begin(), phases.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  std::map<std::string, double> host_ns_by_phase;  // the host's time in each phase (launching, or computing on CPU)
  for (const auto& span : phases) host_ns_by_phase[span.phase] += static_cast<double>(span.end - span.start);
  auto phase_at = [&](uint64_t t) -> std::string {  // the step's phases do not nest: the last one started
    auto it = std::upper_bound(phases.begin(), phases.end(), t, [](uint64_t v, const Span& s) { return v < s.start; });
    if (it == phases.begin()) return "other";
    --it;
    return t <= it->end ? it->phase : "other";
  };

  std::map<std::string, std::map<std::string, double>> ns_by_category_phase;
  std::map<std::string, double> ns_by_phase;
  std::map<std::string, KernelTotal> by_kernel;
  std::vector<GpuInterval> kernel_intervals;  // for the busy time and the idle gaps
  int64_t gpu_events = 0;
  std::map<std::string, double> gpu_span_ns_by_phase;  // first kernel start to last kernel end of each phase
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    const std::string name = e.name();
    if (name.rfind(kPhasePrefix, 0) == 0) {  // the GPU side of a phase scope (a user annotation), not a kernel
      gpu_span_ns_by_phase[name.substr(std::string(kPhasePrefix).size())] += static_cast<double>(e.durationNs());
      continue;
    }
    uint64_t launched_at = 0;
    if (auto r = runtime_start_by_correlation.find(e.correlationId()); r != runtime_start_by_correlation.end())
      launched_at = r->second;
    else if (auto o = op_start_by_correlation.find(e.linkedCorrelationId()); o != op_start_by_correlation.end())
      launched_at = o->second;
    const std::string phase = launched_at == 0 ? "other" : phase_at(launched_at);
    const std::string category = kernel_category(name);
    const double ns = static_cast<double>(e.durationNs());
    ns_by_category_phase[category][phase] += ns;
    ns_by_phase[phase] += ns;
    auto& k = by_kernel[name];
    k.ns += ns;
    ++k.count;
    k.category = category;
    kernel_intervals.push_back({e.startNs(), e.endNs(), table_cell(name, 70), phase});
    ++gpu_events;
  }
  // GPU busy time: the union of kernel intervals (concurrent streams overlap), i.e. the span from the first kernel's
  // start to the last one's end less the gaps between kernels.
  uint64_t first_start = UINT64_MAX, last_end = 0;
  for (const GpuInterval& iv : kernel_intervals) {
    first_start = std::min(first_start, iv.start_ns);
    last_end = std::max(last_end, iv.end_ns);
  }
  const std::vector<GpuGapGroup> gaps = gpu_idle_gaps(std::move(kernel_intervals));
  double gaps_ns = 0;
  for (const auto& g : gaps) gaps_ns += g.ns;
  const double busy_ns = last_end > first_start ? static_cast<double>(last_end - first_start) - gaps_ns : 0.0;

  std::vector<std::string> phase_cols(std::begin(kStepPhases), std::end(kStepPhases));
  phase_cols.push_back("other");
  const double ms = 1e-6 / steps;  // ns over the window → ms per step
  nlohmann::json summary = {{"steps", cfg_.steps},
                            {"start_step", cfg_.start_step},
                            {"wall_ms_per_step", wall_ns * ms},
                            {"gpu_busy_ms_per_step", busy_ns * ms},
                            {"gpu_idle_ms_per_step", std::max(0.0, wall_ns - busy_ns) * ms},
                            {"gpu_kernels_per_step", static_cast<double>(gpu_events) / steps}};
  std::ostringstream md;
  md << "Profile of steps " << cfg_.start_step << "–" << cfg_.start_step + cfg_.steps - 1 << ": wall "
     << fixed(wall_ns * ms) << " ms/step, GPU busy " << fixed(busy_ns * ms) << " ms, idle "
     << fixed(std::max(0.0, wall_ns - busy_ns) * ms) << " ms, " << fixed(gpu_events / steps, 0)
     << " GPU kernels/step\n\n";
  md << "| GPU ms/step | total |";
  for (const auto& p : phase_cols) md << ' ' << p << " |";
  md << "\n|---|---:|";
  for (size_t i = 0; i < phase_cols.size(); ++i) md << "---:|";
  md << '\n';
  std::vector<std::pair<double, std::string>> categories;
  double kernel_ns = 0;  // summed kernel time (> busy time when streams overlap)
  for (const auto& [category, phases_ns] : ns_by_category_phase) {
    double total = 0;
    for (const auto& [p, ns] : phases_ns) total += ns;
    categories.emplace_back(total, category);
    kernel_ns += total;
  }
  std::sort(categories.rbegin(), categories.rend());
  nlohmann::json by_category = nlohmann::json::object();
  for (const auto& [total, category] : categories) {
    md << "| " << category << " | " << fixed(total * ms) << " |";
    nlohmann::json row = {{"total", total * ms}};
    for (const auto& p : phase_cols) {
      const auto it = ns_by_category_phase[category].find(p);
      const double v = it == ns_by_category_phase[category].end() ? 0.0 : it->second * ms;
      md << ' ' << (v > 0 ? fixed(v) : "") << " |";
      if (v > 0) row[p] = v;
    }
    md << '\n';
    by_category[category] = row;
  }
  md << "| **all GPU** | **" << fixed(kernel_ns * ms) << "** |";
  for (const auto& p : phase_cols) md << ' ' << (ns_by_phase.count(p) ? fixed(ns_by_phase[p] * ms) : "") << " |";
  md << "\n| host (wall in phase) | " << fixed(wall_ns * ms) << " |";
  nlohmann::json host_by_phase = nlohmann::json::object();
  for (const auto& p : phase_cols) {
    const bool has = host_ns_by_phase.count(p) > 0;
    md << ' ' << (has ? fixed(host_ns_by_phase[p] * ms) : "") << " |";
    if (has) host_by_phase[p] = host_ns_by_phase[p] * ms;
  }
  summary["host_ms_per_step_by_phase"] = host_by_phase;
  // The GPU's span of each phase: more than its kernels' sum = the GPU waited inside the phase (on the host).
  md << "\n| GPU span of phase | |";
  nlohmann::json span_by_phase = nlohmann::json::object();
  for (const auto& p : phase_cols) {
    const bool has = gpu_span_ns_by_phase.count(p) > 0;
    md << ' ' << (has ? fixed(gpu_span_ns_by_phase[p] * ms) : "") << " |";
    if (has) span_by_phase[p] = gpu_span_ns_by_phase[p] * ms;
  }
  summary["gpu_span_ms_per_step_by_phase"] = span_by_phase;
  md << "\n\nTop kernels (GPU ms/step, calls/step):\n\n| kernel | category | ms | calls |\n|---|---|---:|---:|\n";
  std::vector<std::pair<double, std::string>> kernels;
  for (const auto& [name, k] : by_kernel) kernels.emplace_back(k.ns, name);
  std::sort(kernels.rbegin(), kernels.rend());
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < std::min<size_t>(25, kernels.size()); ++i) {
    const auto& k = by_kernel[kernels[i].second];
    md << "| `" << table_cell(kernels[i].second, 110) << "` | " << k.category << " | " << fixed(k.ns * ms, 3) << " | "
       << fixed(static_cast<double>(k.count) / steps, 1) << " |\n";
    top.push_back({{"kernel", kernels[i].second}, {"category", k.category}, {"ms_per_step", k.ns * ms},
                   {"calls_per_step", static_cast<double>(k.count) / steps}});
  }
  summary["gpu_ms_per_step_by_category"] = by_category;
  summary["top_kernels"] = top;
  // Where the GPU waited: the gaps between kernels, by the kernels around them. (The idle above also holds the
  // window's edges: before its first kernel and after its last.)
  md << "\nGPU idle by place: " << fixed(gaps_ns * ms, 3)
     << " ms/step between kernels (ms/step, gaps/step; the phase that launched the kernel after the gap):\n\n"
        "| kernel before the gap | kernel after it | phase | ms | gaps |\n|---|---|---|---:|---:|\n";
  nlohmann::json idle = nlohmann::json::array();
  for (size_t i = 0; i < std::min<size_t>(10, gaps.size()); ++i) {
    const GpuGapGroup& g = gaps[i];
    md << "| `" << g.before << "` | `" << g.after << "` | " << g.phase << " | " << fixed(g.ns * ms, 3) << " | "
       << fixed(static_cast<double>(g.count) / steps, 1) << " |\n";
    idle.push_back({{"kernel_before", g.before}, {"kernel_after", g.after}, {"phase", g.phase},
                    {"ms_per_step", g.ns * ms}, {"gaps_per_step", static_cast<double>(g.count) / steps}});
  }
  summary["gpu_idle_between_kernels_ms_per_step"] = gaps_ns * ms;
  summary["gpu_idle_by_place"] = idle;
  log::info("profile:\n" + md.str());
  if (out_dir_.empty()) return;
  const fs::path dir = fs::path(out_dir_) / "profile";
  fs::create_directories(dir);
  std::ofstream(dir / "summary.md") << md.str();
  std::ofstream(dir / "summary.json") << summary.dump(2) << '\n';
  if (cfg_.trace) {
    result->save((dir / "trace.json").string());
    log::info("profile trace: " + (dir / "trace.json").string());
  }
}

}  // namespace sigtrain::trainer
