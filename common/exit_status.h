#pragma once
// The exit statuses of every `sigtrain` subcommand (README "Exit status", docs/cli.md). Scripts branch on them, so
// each subcommand maps its outcome onto these and nothing else; torch-free so the app, the trainer and the tests
// share one definition.
//
//   0  ok: the run completed (or was already complete), the report or config was written, --help / --version
//   1  the run failed or diverged: it started, and its folder's summary.json says why (`status`, `reason`);
//      also an unexpected error that is not the input's fault
//   2  bad input, refused before anything was written: config (key, type, value, empty file), command-line
//      flag, missing file or folder, damaged or mismatching checkpoint, unreadable report input
// `sigtrain launch` returns the first failing rank's status (so again 1 or 2), or 128 + N when a signal N ended it;
// `sigtrain train` returns 128 + N when signal N (SIGTERM, SIGINT) stopped it after a checkpoint of its last step
// (trainer/loop/stop_signal.h; summary.json status `interrupted`).
#include <stdexcept>

namespace sigtrain::exit_status {

inline constexpr int kOk = 0;
inline constexpr int kRunFailed = 1;
inline constexpr int kBadInput = 2;

}  // namespace sigtrain::exit_status

namespace sigtrain {

// Bad input that is neither a config nor a checkpoint error (e.g. a report folder without run files): exit 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sigtrain
