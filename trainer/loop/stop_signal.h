#pragma once
// SIGTERM / SIGINT while a run trains (a scheduler's preemption, a time limit's `timeout`, Ctrl-C): instead of dying
// mid-step and losing everything since the last checkpoint, the run finishes the step it is in, saves a checkpoint
// and ends with status `interrupted` and exit status 128 + N, so that `--resume` continues from exactly that step.
// A second signal while it stops ends the process at once (the default action), for a user who will not wait;
// not one from the parent process, which is `sigtrain launch` passing on the stop that its ranks also got.
// Torch-free.
namespace sigtrain::trainer {

// Installs the handlers for its lifetime (the previous ones are restored on destruction); one at a time.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first signal received while installed (SIGTERM or SIGINT), 0 if none.
  static int received();
};

// "SIGTERM", "SIGINT", otherwise "a signal".
const char* stop_signal_name(int sig);

}  // namespace sigtrain::trainer
