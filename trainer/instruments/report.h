#pragma once
// `sigtrain report RUN_DIR [RUN_DIR ...] [--arm NAME=RUN[,RUN...] ...] [--out DIR]`: compares finished (or killed)
// runs side by side.
//
// Reads each run's summary.json, config.yaml, metrics.jsonl and metrics.h5 (torch-free), prints a table (final and
// best losses, max grad norm and its ratio to the early median, divergence step, tokens/s), one column per arm, and
// writes into the output folder (default: the first run folder):
//   report.md      the table as Markdown
//   report.json    every series the plots use (train loss and grad norm per step, validation loss, per-layer
//                  gradient norms, attention statistics), NaN as null; per arm the statistics of every table row and
//                  the mean / std / min / max curves over its runs
//   *.png          drawn by scripts/plot_report.py (python3 + matplotlib): loss.png, grad_norm.png,
//                  grad_norm_layers.png, attention.png
// An arm is a set of runs of one config that differ only in the seed: a column of its own shows mean ± sample
// standard deviation over the runs. Each positional RUN_DIR is an arm of one run (the table of a single run is the
// run's own numbers).
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct ReportArm {
  std::string name;
  std::vector<std::string> run_dirs;
};

// Parses one `--arm NAME=RUN[,RUN...]` value. Throws InputError naming the flag and what was expected (no '=', an
// empty name, no runs after '=', an empty entry in the list).
ReportArm parse_arm_spec(const std::string& spec);

struct ReportOptions {
  std::vector<ReportArm> arms;          // --arm, in the order given; each needs a distinct name
  std::vector<std::string> run_dirs;    // positional: each its own arm (named after the run folder), after `arms`
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
  std::vector<std::string> warnings;    // runs of one arm whose configs differ in more than the seed, ...
};

// Throws InputError when no run is given, an --arm name is repeated, a run folder is missing or listed twice, or a
// run folder has neither summary.json nor metrics.jsonl.
ReportResult make_report(const ReportOptions& options);

// Early-median definition used by the table: the median of the finite grad norms over the first 10 % of the run's
// steps (at least its first 10 steps). Exposed for tests.
double early_median_grad_norm(const std::vector<long long>& steps, const std::vector<double>& grad_norms);

// The config keys (dotted paths) two runs of one arm may differ in without a warning: the seed and what only
// changes bookkeeping (run.name, logging.*, checkpoint.*, train.threads).
bool report_ignores_config_key(const std::string& dotted_key);

}  // namespace sigtrain::trainer
