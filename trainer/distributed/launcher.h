#pragma once
// `sigtrain launch`: starts one training process per local rank on this node and watches them (torchrun's job for
// sigtrain, without Python). Torch-free.
//
//   sigtrain launch --nproc-per-node 2 train --config c.yaml            # one node, a free port picked
//   sigtrain launch --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node01 --master-port 29500 train ...
//
// Each child is this executable re-run with the arguments after the launcher's own (`train ...`) and the
// environment torchrun would give it: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
// MASTER_PORT, plus NCCL_NVLS_ENABLE=0 unless set. Children's stdout is shared; their stderr is relayed line by line
// and the last lines of each are kept. When a child fails (non-zero exit or a signal) the others get SIGTERM, then
// SIGKILL after the grace period, and the launcher exits non-zero naming the rank, its status and its last lines.
// A rank that ends with 128 + SIGTERM / SIGINT stopped on a signal after a checkpoint (trainer/loop/stop_signal.h):
// the ranks agreed on the step, so the others end the same way; the log calls it resumable.
// The launcher exits with 0 only when every child did.
#include <string>
#include <vector>

namespace sigtrain::trainer {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;      // 0: a free port on a single node, 29500 with several nodes
  double grace_s = 10.0;    // SIGTERM -> SIGKILL when stopping the remaining ranks
  std::vector<std::string> child_args;  // "train", "--config", ...
  std::string executable;   // what the children run; empty: this executable (/proc/self/exe)
};

// Empty when the options are usable, else a message naming the option and what is wrong.
std::string check_launch_options(const LaunchOptions& options);

// Runs the job; returns the launcher's exit code (0 all ranks succeeded; else the failed rank's exit status, or
// 128 + signal when it was killed). Throws std::runtime_error for invalid options or when a child cannot start.
int launch(const LaunchOptions& options);

}  // namespace sigtrain::trainer
