#pragma once
// Data parallelism on c10d (PyTorch's distributed engine) from C++: who this process is, and the few collectives the
// trainer needs. One process per GPU (or per CPU worker); every process holds the whole model.
//
//   DistEnv env = read_dist_env();                 // RANK/WORLD_SIZE/... from sigtrain launch, torchrun or Slurm
//   DistributedContext dist(cfg.dist, env, device); // world 1: no process group at all, every helper a no-op
//
// With world size > 1 the ranks rendezvous through a c10d::TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT and
// talk through ProcessGroupNCCL (CUDA) or ProcessGroupGloo (CPU). Every blocking call here fails with an exception
// (never hangs) when another rank is dead or stuck for longer than dist.timeout_s.
// The c10d headers stay in distributed.cpp; this header only needs tensors.
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/distributed/dist_config.h"

namespace sigtrain::trainer {

// This process's place in the job, from the environment.
//   torchrun / `sigtrain launch`: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT.
//   Slurm (when RANK is not set): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR if set, else the first
//   host of SLURM_JOB_NODELIST; MASTER_PORT if set, else 29500.
//   Neither: a single process (world size 1).
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "none";  // torchrun | slurm | none
};

// Throws config::ConfigError naming the variable when the environment is inconsistent (RANK >= WORLD_SIZE, ...).
DistEnv read_dist_env();

// The first host of a Slurm node list: "gpu[07-09,12],login1" -> "gpu07". Empty for an empty list.
std::string first_slurm_host(const std::string& nodelist);

// Waits for an asynchronous collective; throws if it failed or timed out.
using WaitHandle = std::function<void()>;

class DistributedContext {
 public:
  // `device` is where this rank computes (cuda:LOCAL_RANK or cpu); dist.backend=auto picks NCCL for CUDA and Gloo
  // for CPU. Blocks until all ranks have joined (or dist.timeout_s passes).
  DistributedContext(const DistConfig& cfg, const DistEnv& env, const torch::Device& device);
  ~DistributedContext();  // shuts the process group down (aborts it when unwinding after an error)
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_distributed() const { return env_.world_size > 1; }
  const DistEnv& env() const { return env_; }
  std::string backend_name() const;  // "nccl", "gloo" or "none"
  std::string describe() const;      // one line for the log

  // Sum over ranks, in place. `t` may live anywhere; it is moved to the backend's device and back if needed.
  void all_reduce_sum(torch::Tensor& t);
  // Starts a sum over ranks of `t` (contiguous, on the backend's device) and returns at once. With NCCL the
  // handle's wait makes the current CUDA stream wait (no host sync); with Gloo it blocks until done.
  WaitHandle all_reduce_sum_async(const torch::Tensor& t);
  // Rank `root`'s values into `t` on every rank, in place.
  void broadcast(torch::Tensor& t, int root = 0);
  // Every rank's `values` (same length everywhere): result[r] is rank r's vector.
  std::vector<std::vector<int64_t>> all_gather(const std::vector<int64_t>& values);
  std::vector<std::vector<double>> all_gather(const std::vector<double>& values);
  // Rank 0's string on every rank (through the store; e.g. a run folder named after rank 0's clock).
  std::string broadcast_string(const std::string& value);
  // Throws std::runtime_error("<what> differs across ranks: rank 0 ..., rank 1 ...") unless all ranks pass equal
  // values. A collective: every rank must call it at the same point.
  void check_same_on_all_ranks(const std::string& what, const std::vector<int64_t>& values,
                               const std::vector<std::string>& names);
  // Returns when every rank has arrived (or throws after the timeout).
  void barrier();
  // Rank 0's default CUDA generator state on every rank (no-op on CPU or with one rank). All ranks draw the same
  // random numbers (one seed, same shapes), so rank 0's generator is every rank's; after a resume rank r > 0 would
  // otherwise hold rank 0's never-used state for cuda:r.
  void broadcast_cuda_rng();
  // Rank 0 runs `work` first, then the other ranks run theirs (e.g. rank 0 tokenises and caches the corpus, the
  // others open the cache). The others wait up to kRank0FirstTimeout, longer than dist.timeout_s because data
  // preparation can be slow; if rank 0's work throws they fail too.
  void rank0_first(const std::function<void()>& work);
  static constexpr std::chrono::hours kRank0FirstTimeout{2};

  // Shuts the process group down (idempotent); for NCCL this avoids the "destroy without shutdown" warning.
  void shutdown();

 private:
  struct Impl;
  DistEnv env_;
  torch::Device device_;
  std::unique_ptr<Impl> impl_;  // null for world size 1
};


}  // namespace sigtrain::trainer
