// sigtrain: the command-line entry point. Each subcommand hands over to the component that owns the work.
#include <CLI/CLI.hpp>

#include <torch/cuda.h>

#include <iostream>

#include "common/config.h"
#include "common/log.h"
#include "sigtrain/build_info.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

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

}  // namespace

int main(int argc, char** argv) {
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
  auto* resume_opt = train->add_option("--resume", resume_path,
                                       "Resume from a run or checkpoint folder (no value: the latest of --run-dir)")
                         ->expected(0, 1);

  // sigtrain config
  std::vector<std::string> config_files, config_overrides;
  auto* config = app.add_subcommand("config", "Print the fully resolved config, defaults included");
  config->add_option("--config,-c", config_files, "Config file (repeatable)")->required()->check(CLI::ExistingFile);
  config->add_option("--set", config_overrides, "Override a key: key.path=value (repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (show_version) {
    std::cout << version_text();
    return 0;
  }
  try {
    if (*train) {
      if (resume_opt->count() > 0) train_opts.resume = resume_path;
      if (train_opts.config_files.empty() && !train_opts.resume) {
        std::cerr << "sigtrain train: --config FILE is required (or --resume a run)\n";
        return 2;
      }
      return sigtrain::trainer::run_training(train_opts);
    }
    if (*config) {
      std::cout << sigtrain::trainer::resolve_config(config_files, config_overrides);
      return 0;
    }
    std::cout << app.help();
    return 0;
  } catch (const sigtrain::config::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 2;
  } catch (const sigtrain::trainer::CheckpointError& e) {
    std::cerr << "checkpoint error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
