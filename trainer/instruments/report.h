#pragma once
// `sigtrain report RUN_DIR [RUN_DIR ...] [--out DIR]`: compares finished (or killed) runs side by side.
//
// Reads each run's summary.json, config.yaml, metrics.jsonl and metrics.h5 (torch-free), prints a table (final and
// best losses, max grad norm and its ratio to the early median, divergence step, tokens/s), and writes into the
// output folder (default: the first run folder):
//   report.md      the table as Markdown
//   report.json    every series the plots use (train loss and grad norm per step, validation loss, per-layer
//                  gradient norms, attention statistics), NaN as null
//   *.png          drawn by scripts/plot_report.py (python3 + matplotlib): loss.png, grad_norm.png,
//                  grad_norm_layers.png, attention.png
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct ReportOptions {
  std::vector<std::string> run_dirs;
  std::string out_dir;      // empty: the first run folder
  bool plots = true;
  std::string plot_script;  // empty: $SIGTRAIN_PLOT_SCRIPT, <exe>/../scripts/plot_report.py, then the source tree's
  std::string python = "python3";
};

struct ReportResult {
  std::string table;                    // the side-by-side text table
  std::string out_dir;
  std::vector<std::string> files;       // everything written (report.md, report.json, PNGs)
  std::string plot_error;               // empty when the plots were drawn (or not asked for)
};

// Throws std::runtime_error when a run folder has neither summary.json nor metrics.jsonl.
ReportResult make_report(const ReportOptions& options);

// Early-median definition used by the table: the median of the finite grad norms over the first 10 % of the run's
// steps (at least its first 10 steps). Exposed for tests.
double early_median_grad_norm(const std::vector<long long>& steps, const std::vector<double>& grad_norms);

}  // namespace sigtrain::trainer
