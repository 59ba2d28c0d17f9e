// sigtrain: the command-line entry point. Each subcommand hands over to the component that owns the work.
#include <CLI/CLI.hpp>

#include <torch/cuda.h>

#include <filesystem>
#include <iostream>

#include "common/config.h"
#include "common/crash_report.h"
#include "common/exit_status.h"
#include "common/log.h"
#include "data/singlecell/format_error.h"
#include "data/singlecell/inspect_report.h"
#include "sigtrain/build_info.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/distributed/launcher.h"
#include "trainer/instruments/report.h"
#include "trainer/loop/trainer.h"

namespace {

std::string version_text() {
  std::string s = std::string("sigtrain ") + sigtrain::build_info::kVersion + "\n";
  s += std::string("git commit: ") + sigtrain::build_info::kGitCommit + "\n";
  s += std::string("LibTorch: ") + sigtrain::build_info::kTorchVersion +
       (sigtrain::build_info::kTorchCuda ? " (CUDA)" : " (CPU only)") + "\n";
  s += std::string("fused sigmoid-attention kernels: ") +
       (sigtrain::build_info::kCudaKernels ? "built" : "not built (no nvcc at build time)") + "\n";
  s += std::string("CUDA devices visible: ") + std::to_string(torch::cuda::device_count()) + "\n";
  return s;
}

namespace exit_status = sigtrain::exit_status;

// CLI11 reports --help (and its own successful early exits) as a ParseError with exit code 0: print and succeed.
// Every other parse error -- unknown flag, missing value, a failed check such as a --config file that does not
// exist -- is bad input, whatever CLI11's own code (105, 106, 109, ...) would have been.
int parse_error_status(const CLI::App& app, const CLI::ParseError& e) {
  app.exit(e);  // CLI11's message: the help to stdout, an error (naming the flag) to stderr
  return e.get_exit_code() == 0 ? exit_status::kOk : exit_status::kBadInput;
}

// What went wrong, to stderr, and the exit status for it (common/exit_status.h). Called from a catch block.
int report_current_exception() {
  try {
    throw;
  } catch (const sigtrain::trainer::RunFailed& e) {  // first: a run that started failed, whatever the cause
    std::cerr << "error: the run failed: " << e.what() << "\n";
    return exit_status::kRunFailed;
  } catch (const sigtrain::config::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
  } catch (const sigtrain::trainer::CheckpointError& e) {
    std::cerr << "checkpoint error: " << e.what() << "\n";
  } catch (const sigtrain::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
  } catch (const sigtrain::singlecell::FormatError& e) {  // `data inspect` of a malformed file
    std::cerr << "error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return exit_status::kRunFailed;
  }
  return exit_status::kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  sigtrain::install_crash_report();
  CLI::App app{"sigtrain: train transformers with softmax or sigmoid attention"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print version, git commit, LibTorch version and CUDA support");

  // sigtrain train
  sigtrain::trainer::TrainOptions train_opts;
  std::string resume_path;
  auto* train = app.add_subcommand("train", "Train a model from YAML configs");
  train->add_option("--config,-c", train_opts.config_files, "Config file (repeatable; later files override earlier)")
      ->check(CLI::ExistingFile);
  train->add_option("--set", train_opts.overrides, "Override a key: key.path=value (repeatable, applied last)");
  train->add_option("--run-dir", train_opts.run_dir, "Run folder (default: runs/<name>-<UTC time>)");
  train->add_flag("--allow-defaults", train_opts.allow_defaults,
                  "Accept a config file without keys (train on defaults alone)");
  auto* resume_opt = train->add_option("--resume", resume_path,
                                       "Resume from a run or checkpoint folder (no value: the latest of --run-dir)")
                         ->expected(0, 1);

  // sigtrain config
  std::vector<std::string> config_files, config_overrides;
  bool config_allow_defaults = false;
  auto* config = app.add_subcommand("config", "Print the fully resolved config, defaults included");
  config->add_option("--config,-c", config_files, "Config file (repeatable)")->required()->check(CLI::ExistingFile);
  config->add_option("--set", config_overrides, "Override a key: key.path=value (repeatable)");
  config->add_flag("--allow-defaults", config_allow_defaults, "Accept a config file without keys");

  // sigtrain report
  sigtrain::trainer::ReportOptions report_opts;
  bool report_no_plots = false;
  std::vector<std::string> report_arms;
  auto* report = app.add_subcommand("report", "Compare runs: side-by-side table and PNG plots (docs/stability.md)");
  report->add_option("run_dirs", report_opts.run_dirs, "Run folders (each its own arm)")
      ->check(CLI::ExistingDirectory);
  report->add_option("--arm", report_arms,
                     "NAME=RUN[,RUN...]: the runs of one arm (seeds), shown as mean ± std (repeatable)");
  report->add_option("--out", report_opts.out_dir, "Output folder (default: the first run folder)");
  report->add_flag("--no-plots", report_no_plots, "Only the table, report.md and report.json");

  // sigtrain launch: data-parallel training, one `train` process per local rank (trainer/launcher.h)
  sigtrain::trainer::LaunchOptions launch_opts;
  auto* launch = app.add_subcommand(
      "launch", "Data-parallel training: start one `train` process per local rank (docs/distributed.md)");
  launch->add_option("--nproc-per-node", launch_opts.nproc_per_node, "Ranks on this node (one per GPU)")
      ->required()
      ->check(CLI::Range(1, 1024));
  launch->add_option("--nnodes", launch_opts.nnodes, "Number of nodes (default 1)")->check(CLI::Range(1, 1 << 16));
  launch->add_option("--node-rank", launch_opts.node_rank, "This node's index, 0..nnodes-1 (default 0)")
      ->check(CLI::Range(0, (1 << 16) - 1));
  launch->add_option("--master-addr", launch_opts.master_addr, "Address of node rank 0 (default 127.0.0.1)");
  launch->add_option("--master-port", launch_opts.master_port,
                     "Rendezvous port on node rank 0 (default: a free port on one node, 29500 with several)")
      ->check(CLI::Range(1, 65535));
  launch->add_option("--grace", launch_opts.grace_s, "Seconds from SIGTERM to SIGKILL when stopping ranks (10)")
      ->check(CLI::NonNegativeNumber);
  launch->prefix_command();  // everything from `train` on belongs to the ranks
  launch->footer("After the options: train [train options], e.g.\n"
                 "  sigtrain launch --nproc-per-node 2 train --config configs/lm/gpt2_small.yaml");

  // sigtrain data inspect FILE [--label COL] [--layer L] (docs/singlecell.md §2)
  auto* data_cmd = app.add_subcommand("data", "Inspect data files");
  data_cmd->require_subcommand(1);
  std::string inspect_path, inspect_label;
  sigtrain::singlecell::OpenOptions inspect_opts;
  auto* inspect = data_cmd->add_subcommand(
      "inspect", "Single-cell file (.h5ad, 10x .h5, MEX folder): shape, nnz, encoding, obs/var columns, labels");
  inspect->add_option("file", inspect_path, "File or MEX folder")->required()->check(CLI::ExistingPath);
  inspect->add_option("--label", inspect_label, "obs column whose categories are counted");
  inspect->add_option("--layer", inspect_opts.layer, "h5ad matrix: X (default), raw, or a layers/ name");
  inspect->add_option("--format", inspect_opts.format, "auto (default) | h5ad | 10x_h5 | mex")
      ->check(CLI::IsMember({"auto", "h5ad", "10x_h5", "mex"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_error_status(app, e);
  }

  if (show_version) {
    std::cout << version_text();
    return exit_status::kOk;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << app.help() << "sigtrain: a subcommand is required\n";
    return exit_status::kBadInput;
  }
  try {
    if (*train) {
      if (resume_opt->count() > 0) train_opts.resume = resume_path;
      if (train_opts.config_files.empty() && !train_opts.resume) {
        std::cerr << "sigtrain train: --config FILE is required (or --resume a run)\n";
        return exit_status::kBadInput;
      }
      return sigtrain::trainer::run_training(train_opts);
    }
    if (*report) {
      report_opts.plots = !report_no_plots;
      for (const auto& spec : report_arms) report_opts.arms.push_back(sigtrain::trainer::parse_arm_spec(spec));
      auto result = sigtrain::trainer::make_report(report_opts);
      std::cout << result.table;
      for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";
      if (!result.plot_error.empty()) std::cerr << "warning: " << result.plot_error << "\n";
      std::cout << "report files in " << result.out_dir << ":";
      for (const auto& f : result.files) std::cout << " " << std::filesystem::path(f).filename().string();
      std::cout << "\n";
      return exit_status::kOk;
    }
    if (*launch) {
      launch_opts.child_args = launch->remaining();
      if (auto err = sigtrain::trainer::check_launch_options(launch_opts); !err.empty()) {
        std::cerr << "sigtrain launch: " << err << "\n";
        return exit_status::kBadInput;
      }
      return sigtrain::trainer::launch(launch_opts);
    }
    if (*config) {
      std::cout << sigtrain::trainer::resolve_config(config_files, config_overrides, config_allow_defaults);
      return exit_status::kOk;
    }
    if (*inspect) {
      std::cout << sigtrain::singlecell::inspect_file(inspect_path, inspect_label, inspect_opts).to_text();
      return exit_status::kOk;
    }
    std::cerr << app.help();  // unreachable while every subcommand is handled above
    return exit_status::kBadInput;
  } catch (const std::exception&) {
    return report_current_exception();
  }
}
