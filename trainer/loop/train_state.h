#pragma once
// What the loop knows about a run's progress: checkpoints store it (except the timers), evaluations update it.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

namespace sigtrain::trainer {

struct TrainState {
  int64_t step = 0;         // optimizer steps done
  int64_t start_step = 0;   // where this process started (the resumed checkpoint's step, else 0)
  int64_t tokens_seen = 0;
  double best_val_loss = INFINITY;
  std::optional<double> last_train_loss;  // the latest logged (synced) training loss; none before the first log
  std::optional<double> last_val_loss;    // the latest evaluation; none before the first

  // Throughput window: steps since the last logged step, and when the window started (an evaluation restarts
  // it, so evaluation never counts as training time).
  std::chrono::steady_clock::time_point window_start = std::chrono::steady_clock::now();
  int64_t window_steps = 0;
  void restart_window() {
    window_start = std::chrono::steady_clock::now();
    window_steps = 0;
  }
};

}  // namespace sigtrain::trainer
