// c10d process groups from C++. The only TU that includes c10d headers (they are large and semi-internal).
#include "trainer/distributed/distributed.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#ifdef USE_C10D_GLOO
// Gloo's own headers are not in the LibTorch wheel; trainer/distributed/gloo_shim declares the names this header
// needs.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(SIGTRAIN_TORCH_CUDA) && defined(USE_C10D_NCCL)
#define SIGTRAIN_HAVE_NCCL 1
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"

namespace sigtrain::trainer {
namespace {

std::optional<std::string> getenv_str(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int min, int max) {
  const std::string v = *getenv_str(name);
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || x < min || x > max)
    throw config::ConfigError("environment variable " + std::string(name) + "=" + v + ": expected an integer in [" +
                              std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int>(x);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at the first comma outside brackets: "a[1-3,5],b" -> "a[1-3,5]".
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  const auto open = first.find('[');
  if (open == std::string::npos) return first;
  // "prefix[07-09,12]suffix" -> prefix + "07" + suffix (zero padding kept as written).
  std::string range = first.substr(open + 1, first.find(']') - open - 1);
  std::string lo = range.substr(0, range.find_first_of(",-"));
  return first.substr(0, open) + lo + first.substr(first.find(']') + 1);
}

DistEnv read_dist_env() {
  DistEnv e;
  if (getenv_str("RANK") || getenv_str("WORLD_SIZE")) {
    if (!getenv_str("RANK") || !getenv_str("WORLD_SIZE"))
      throw config::ConfigError("environment: RANK and WORLD_SIZE must be set together (found only " +
                                std::string(getenv_str("RANK") ? "RANK" : "WORLD_SIZE") + ")");
    e.source = "torchrun";
    e.world_size = env_int("WORLD_SIZE", 1, 1 << 20);
    e.rank = env_int("RANK", 0, e.world_size - 1);
    e.local_rank = getenv_str("LOCAL_RANK") ? env_int("LOCAL_RANK", 0, e.world_size - 1) : 0;
    e.local_world_size = getenv_str("LOCAL_WORLD_SIZE") ? env_int("LOCAL_WORLD_SIZE", 1, e.world_size) : 1;
  } else if (getenv_str("SLURM_PROCID") && getenv_str("SLURM_NTASKS")) {
    e.source = "slurm";
    e.world_size = env_int("SLURM_NTASKS", 1, 1 << 20);
    e.rank = env_int("SLURM_PROCID", 0, e.world_size - 1);
    e.local_rank = getenv_str("SLURM_LOCALID") ? env_int("SLURM_LOCALID", 0, e.world_size - 1) : 0;
    auto nodelist = getenv_str("SLURM_JOB_NODELIST");
    if (!nodelist) nodelist = getenv_str("SLURM_NODELIST");
    if (nodelist) e.master_addr = first_slurm_host(*nodelist);
  }
  if (auto addr = getenv_str("MASTER_ADDR")) e.master_addr = *addr;
  if (getenv_str("MASTER_PORT")) e.master_port = env_int("MASTER_PORT", 1, 65535);
  if (e.world_size == 1) e.source = "none";
  return e;
}


// ----------------------------------------------------------------------------------------------------------------

struct DistributedContext::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  std::string backend;
  torch::Device comm_device{torch::kCPU};  // where collective buffers must live (cuda:local for NCCL)
  int64_t store_seq = 0;                    // unique keys for broadcast_string
  int64_t timeout_s = 0;
  int rank = 0;

  // Waits for `work`; a failure names the collective and the likely cause instead of a bare transport error.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error("rank " + std::to_string(rank) + ": " + what + " over " + backend +
                               " failed: another rank died or did not take part within dist.timeout_s = " +
                               std::to_string(timeout_s) + " s (" + e.what() + ")");
    }
  }
  bool shut_down = false;
};

DistributedContext::DistributedContext(const DistConfig& cfg, const DistEnv& env_in, const torch::Device& device)
    : env_(env_in), device_(device) {
  if (!cfg.master_addr.empty()) env_.master_addr = cfg.master_addr;
  if (cfg.master_port > 0) env_.master_port = static_cast<int>(cfg.master_port);
  if (env_.world_size == 1) return;  // a single process: no store, no process group, no overhead

  impl_ = std::make_unique<Impl>();
  std::string backend = cfg.backend;
  if (backend == "auto") backend = device.is_cuda() ? "nccl" : "gloo";
  if (backend == "nccl" && !device.is_cuda())
    throw config::ConfigError("dist.backend: nccl needs CUDA devices; this rank computes on " + device.str() +
                              " (use dist.backend=gloo or auto)");
  impl_->backend = backend;
  impl_->timeout_s = cfg.timeout_s;
  impl_->rank = env_.rank;
  const auto timeout = std::chrono::milliseconds(cfg.timeout_s * 1000);

  // Rendezvous: rank 0 serves the key-value store, every rank connects (and waits for all) within the timeout.
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(env_.master_port);
  so.isServer = env_.rank == 0;
  so.numWorkers = static_cast<size_t>(env_.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  log::debug("rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + ": rendezvous at " +
            env_.master_addr + ":" + std::to_string(env_.master_port) + " (" + backend + ", timeout " +
            std::to_string(cfg.timeout_s) + " s)");
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(env_.rank) + ": rendezvous at " + env_.master_addr + ":" +
                             std::to_string(env_.master_port) + " failed within " + std::to_string(cfg.timeout_s) +
                             " s (all " + std::to_string(env_.world_size) +
                             " ranks must start and reach MASTER_ADDR:MASTER_PORT): " + e.what());
  }

  if (backend == "gloo") {
#ifdef USE_C10D_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Gloo needs a network device to bind: GLOO_SOCKET_IFNAME if set (as in PyTorch), loopback when the whole job
    // is on this host, else the address this host's name resolves to.
    if (auto ifname = getenv_str("GLOO_SOCKET_IFNAME"))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*ifname));
    else if (is_loopback(env_.master_addr))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env_.rank, env_.world_size, opts);
    impl_->comm_device = device;  // CPU normally; Gloo also reduces CUDA tensors (staged through the host)
#else
    throw config::ConfigError("dist.backend: this LibTorch was built without Gloo");
#endif
  } else {
#ifdef SIGTRAIN_HAVE_NCCL
    c10::cuda::set_device(device.index());  // stray allocations and NCCL's own buffers go to this rank's GPU
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;  // the watchdog aborts a collective (and this process) stuck for longer
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env_.rank, env_.world_size, opts);
    impl_->pg->setBoundDeviceId(device);  // barriers and eager init use this GPU, not a guess
    impl_->comm_device = device;
#else
    throw config::ConfigError("dist.backend: nccl is not available (LibTorch without CUDA/NCCL); use gloo");
#endif
  }
  // A first collective: every rank has a working group before training starts (and NCCL connects now).
  barrier();
}

DistributedContext::~DistributedContext() {
  if (!impl_ || impl_->shut_down) return;
  if (std::uncaught_exceptions() > 0) {
    // Unwinding after an error: the other ranks may be dead or stuck. Abort the group (NCCL aborts its
    // communicators) and leak it and the store on purpose: their destructors would wait for queued collectives,
    // each until its own timeout, and the process is about to exit anyway.
    try {
      impl_->pg->abort();
    } catch (...) {
    }
    impl_->shut_down = true;
    (void)impl_->pg.release();
    (void)impl_->store.release();
    return;
  }
  try {
    shutdown();
  } catch (const std::exception& e) {
    log::warn(std::string("process group shutdown: ") + e.what());
  }
}

void DistributedContext::shutdown() {
  if (!impl_ || impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->pg->shutdown();
}

std::string DistributedContext::backend_name() const { return impl_ ? impl_->backend : "none"; }

std::string DistributedContext::describe() const {
  if (!impl_) return "single process (no process group)";
  return "rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + " (local rank " +
         std::to_string(env_.local_rank) + ", from " +
         (env_.source == "slurm" ? "SLURM_PROCID/SLURM_NTASKS" : "RANK/WORLD_SIZE") + "), " + impl_->backend + " on " +
         device_.str() + ", rendezvous " + env_.master_addr + ":" + std::to_string(env_.master_port);
}

WaitHandle DistributedContext::all_reduce_sum_async(const torch::Tensor& t) {
  if (!impl_) return [] {};
  TORCH_CHECK(t.is_contiguous() && t.device() == impl_->comm_device,
              "all_reduce_sum_async: tensor must be contiguous on ", impl_->comm_device);
  std::vector<at::Tensor> tensors{t};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  auto work = impl_->pg->allreduce(tensors, opts);
  return [impl = impl_.get(), work] { impl->wait(work, "all-reduce"); };
}

void DistributedContext::all_reduce_sum(torch::Tensor& t) {
  if (!impl_) return;
  torch::Tensor buf = t.to(impl_->comm_device).contiguous();
  all_reduce_sum_async(buf.view({-1}))();  // 1-d view: 0-dim scalars too
  if (!buf.is_same(t)) t.copy_(buf);
}

void DistributedContext::broadcast(torch::Tensor& t, int root) {
  if (!impl_) return;
  torch::Tensor buf = t.to(impl_->comm_device).contiguous();
  std::vector<at::Tensor> tensors{buf.view({-1})};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  impl_->wait(impl_->pg->broadcast(tensors, opts), "broadcast");
  if (!buf.is_same(t)) t.copy_(buf);
}

void DistributedContext::broadcast_cuda_rng() {
  if (!is_distributed() || !device_.is_cuda()) return;
  at::Generator gen = at::globalContext().defaultGenerator(device_);
  torch::Tensor state = gen.get_state();
  broadcast(state, 0);
  gen.set_state(state);
}

void DistributedContext::barrier() {
  if (!impl_) return;
  // An all-reduce read back on the host: returns only when every rank has contributed (works on both backends
  // without NCCL's device guessing).
  torch::Tensor one = torch::ones({1}, torch::TensorOptions().device(impl_->comm_device).dtype(torch::kFloat32));
  all_reduce_sum_async(one)();
  const double n = one.cpu().item<double>();
  if (n != env_.world_size)
    throw std::runtime_error("barrier: expected " + std::to_string(env_.world_size) + " ranks, counted " +
                             std::to_string(n));
}

void DistributedContext::rank0_first(const std::function<void()>& work) {
  if (!impl_) return work();
  const std::string key = "sigtrain/rank0_first/" + std::to_string(impl_->store_seq++);
  if (env_.rank == 0) {
    try {
      work();
    } catch (...) {
      impl_->store->set(key, std::vector<uint8_t>{0});
      throw;
    }
    impl_->store->set(key, std::vector<uint8_t>{1});
    return;
  }
  impl_->store->wait({key}, kRank0FirstTimeout);
  if (impl_->store->get(key) != std::vector<uint8_t>{1})
    throw std::runtime_error("rank 0 failed in the step the other ranks wait for (see its log)");
  work();
}

std::vector<std::vector<int64_t>> DistributedContext::all_gather(const std::vector<int64_t>& values) {
  if (!impl_) return {values};
  // Each rank writes its row of a zero matrix; the sum over ranks is then every row exactly (x + 0 == x).
  const int64_t n = static_cast<int64_t>(values.size());
  torch::Tensor m = torch::zeros({env_.world_size, n}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) m[env_.rank][i] = values[static_cast<size_t>(i)];
  all_reduce_sum(m);
  m = m.cpu();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(env_.world_size));
  for (int r = 0; r < env_.world_size; ++r)
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(r)].push_back(m[r][i].item<int64_t>());
  return out;
}

std::vector<std::vector<double>> DistributedContext::all_gather(const std::vector<double>& values) {
  if (!impl_) return {values};
  const int64_t n = static_cast<int64_t>(values.size());
  torch::Tensor m = torch::zeros({env_.world_size, n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) m[env_.rank][i] = values[static_cast<size_t>(i)];
  all_reduce_sum(m);
  m = m.cpu();
  std::vector<std::vector<double>> out(static_cast<size_t>(env_.world_size));
  for (int r = 0; r < env_.world_size; ++r)
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(r)].push_back(m[r][i].item<double>());
  return out;
}

std::string DistributedContext::broadcast_string(const std::string& value) {
  if (!impl_) return value;
  const std::string key = "sigtrain/broadcast/" + std::to_string(impl_->store_seq++);
  if (env_.rank == 0) impl_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  std::vector<uint8_t> bytes = impl_->store->get(key);  // waits for rank 0 (store timeout)
  return std::string(bytes.begin(), bytes.end());
}

void DistributedContext::check_same_on_all_ranks(const std::string& what, const std::vector<int64_t>& values,
                                                 const std::vector<std::string>& names) {
  if (!impl_) return;
  auto all = all_gather(values);
  bool same = true;
  for (const auto& row : all) same = same && row == all.front();
  if (same) return;
  std::ostringstream os;
  os << what << " differs across ranks:";
  for (size_t r = 0; r < all.size(); ++r) {
    os << "\n  rank " << r << ":";
    for (size_t i = 0; i < all[r].size(); ++i) os << " " << (i < names.size() ? names[i] : "value") << "=" << all[r][i];
  }
  throw std::runtime_error(os.str());
}

}  // namespace sigtrain::trainer
