#include "trainer/distributed/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <stdexcept>

extern char** environ;

namespace sigtrain::trainer {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kTailLines = 20;

volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }
void on_child_exit(int) {}  // only so that poll() wakes up (EINTR) the moment a child exits

struct Child {
  int rank = 0;
  int local_rank = 0;
  pid_t pid = -1;
  int err_fd = -1;           // read end of the child's stderr
  std::string partial;       // stderr bytes after the last newline
  std::deque<std::string> tail;
  bool running = true;
  int status = 0;
};

// A free TCP port on this host for the rendezvous (bind to port 0, read it back, release it). Another process could
// take it before rank 0 binds; then rank 0 fails to start and the launcher reports it.
int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("launch: socket(): ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("launch: could not find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string describe_status(int status) {
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 128 + SIGTERM || WEXITSTATUS(status) == 128 + SIGINT))
    return "exited with status " + std::to_string(WEXITSTATUS(status)) +
           " (stopped by a signal after a checkpoint of its last step: resumable)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Relays complete lines of a child's stderr to ours and remembers the last few. Returns false at EOF.
bool pump(Child& c) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(c.err_fd, buf, sizeof(buf));
    if (n > 0) {
      c.partial.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = c.partial.find('\n')) != std::string::npos) {
        std::string line = c.partial.substr(0, nl);
        c.partial.erase(0, nl + 1);
        std::cerr << line << '\n';
        c.tail.push_back(line);
        if (c.tail.size() > kTailLines) c.tail.pop_front();
      }
      continue;
    }
    if (n == 0) {
      if (!c.partial.empty()) {
        std::cerr << c.partial << '\n';
        c.tail.push_back(c.partial);
        c.partial.clear();
      }
      std::cerr.flush();
      return false;
    }
    if (errno == EINTR) continue;
    std::cerr.flush();
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

void signal_all(std::vector<Child>& children, int sig) {
  for (auto& c : children)
    if (c.running) ::kill(c.pid, sig);
}

}  // namespace

std::string check_launch_options(const LaunchOptions& o) {
  if (o.nproc_per_node < 1) return "--nproc-per-node: expected at least 1, got " + std::to_string(o.nproc_per_node);
  if (o.nnodes < 1) return "--nnodes: expected at least 1, got " + std::to_string(o.nnodes);
  if (o.node_rank < 0 || o.node_rank >= o.nnodes)
    return "--node-rank: expected 0.." + std::to_string(o.nnodes - 1) + " for --nnodes " + std::to_string(o.nnodes) +
           ", got " + std::to_string(o.node_rank);
  if (o.master_port < 0 || o.master_port > 65535)
    return "--master-port: expected a port in 1..65535, got " + std::to_string(o.master_port);
  if (o.nnodes > 1 && o.master_addr.empty()) return "--master-addr: required with --nnodes > 1";
  if (o.nnodes > 1 && (o.master_addr == "127.0.0.1" || o.master_addr == "localhost"))
    return "--master-addr: with --nnodes " + std::to_string(o.nnodes) +
           " give the address of node rank 0 that every node can reach (not " + o.master_addr + ")";
  if (o.grace_s < 0) return "--grace: expected seconds >= 0";
  if (o.child_args.empty())
    return "nothing to launch: give the command after the launcher's options, e.g. `sigtrain launch "
           "--nproc-per-node 2 train --config c.yaml`";
  if (o.child_args.front() != "train")
    return "only `train` can be launched (got `" + o.child_args.front() +
           "`); usage: sigtrain launch [launch options] train [train options]";
  return "";
}

int launch(const LaunchOptions& opts) {
  if (auto err = check_launch_options(opts); !err.empty()) throw std::runtime_error("sigtrain launch: " + err);
  const int world = opts.nnodes * opts.nproc_per_node;
  const int port = opts.master_port > 0 ? opts.master_port : (opts.nnodes == 1 ? pick_free_port() : 29500);
  const std::string exe =
      opts.executable.empty() ? std::filesystem::read_symlink("/proc/self/exe").string() : opts.executable;

  // argv and envp are built before fork(): the child only calls async-signal-safe functions before execve.
  std::vector<std::string> args{exe};
  args.insert(args.end(), opts.child_args.begin(), opts.child_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  static const char* kOurs[] = {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "GROUP_RANK=",
                                "MASTER_ADDR=", "MASTER_PORT="};
  std::vector<std::string> base_env;
  bool has_nvls = false;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    bool ours = false;
    for (const char* k : kOurs) ours = ours || kv.rfind(k, 0) == 0;
    if (!ours) base_env.push_back(kv);
    has_nvls = has_nvls || kv.rfind("NCCL_NVLS_ENABLE=", 0) == 0;
  }
  // NVLink SHARP (multicast) off by default: it needs fabric-manager support many machines lack (docs/distributed.md).
  if (!has_nvls) base_env.push_back("NCCL_NVLS_ENABLE=0");

  struct sigaction stop{}, child{}, old_int{}, old_term{}, old_chld{};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  child.sa_handler = on_child_exit;
  sigemptyset(&child.sa_mask);
  child.sa_flags = SA_NOCLDSTOP;
  ::sigaction(SIGINT, &stop, &old_int);
  ::sigaction(SIGTERM, &stop, &old_term);
  ::sigaction(SIGCHLD, &child, &old_chld);
  g_stop_signal = 0;

  std::cerr << "sigtrain launch: " << opts.nproc_per_node << " rank(s) on node " << opts.node_rank << " of "
            << opts.nnodes << " (world size " << world << "), rendezvous " << opts.master_addr << ":" << port << "\n";
  std::vector<Child> children(static_cast<size_t>(opts.nproc_per_node));
  const pid_t launcher_pid = ::getpid();
  for (int local = 0; local < opts.nproc_per_node; ++local) {
    Child& c = children[static_cast<size_t>(local)];
    c.local_rank = local;
    c.rank = opts.node_rank * opts.nproc_per_node + local;
    std::vector<std::string> env = base_env;
    env.push_back("RANK=" + std::to_string(c.rank));
    env.push_back("WORLD_SIZE=" + std::to_string(world));
    env.push_back("LOCAL_RANK=" + std::to_string(local));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(opts.nproc_per_node));
    env.push_back("GROUP_RANK=" + std::to_string(opts.node_rank));
    env.push_back("MASTER_ADDR=" + opts.master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(port));
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("launch: pipe: ") + std::strerror(errno));
    c.pid = ::fork();
    if (c.pid < 0) throw std::runtime_error(std::string("launch: fork: ") + std::strerror(errno));
    if (c.pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed launcher takes its ranks with it
      if (::getppid() != launcher_pid) ::_exit(126);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGCHLD, SIG_DFL);
      ::dup2(fds[1], STDERR_FILENO);  // dup2 clears O_CLOEXEC on the copy
      ::execve(exe.c_str(), argv.data(), envp.data());
      const char msg[] = "sigtrain launch: execve failed\n";
      (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
      ::_exit(127);
    }
    ::close(fds[1]);
    c.err_fd = fds[0];
    ::fcntl(c.err_fd, F_SETFL, ::fcntl(c.err_fd, F_GETFL) | O_NONBLOCK);
  }

  const Child* first_failure = nullptr;
  bool stopping = false;
  Clock::time_point kill_at{};
  auto begin_stop = [&](int sig) {
    stopping = true;
    signal_all(children, sig);
    kill_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opts.grace_s * 1000));
  };

  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (auto& c : children)
      if (c.err_fd >= 0) {
        fds.push_back({c.err_fd, POLLIN, 0});
        owners.push_back(&c);
      }
    if (!fds.empty()) {
      ::poll(fds.data(), fds.size(), 100);
    } else {
      ::usleep(20000);
    }
    for (size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
        if (!pump(*owners[i])) {
          ::close(owners[i]->err_fd);
          owners[i]->err_fd = -1;
        }

    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& c : children) {
        if (c.pid != pid) continue;
        c.running = false;
        c.status = status;
        const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (failed && !first_failure && !stopping) {
          first_failure = &c;
          int others = 0;
          for (auto& o : children) others += o.running;
          std::cerr << "sigtrain launch: rank " << c.rank << " (local rank " << c.local_rank << ", pid " << c.pid
                    << ") " << describe_status(status) << "; stopping the other " << others << " rank(s)\n";
          begin_stop(SIGTERM);
        }
      }
    }
    if (g_stop_signal && !stopping) {
      std::cerr << "sigtrain launch: got signal " << g_stop_signal << ", stopping all ranks\n";
      begin_stop(SIGTERM);
    }
    bool any_running = false;
    for (auto& c : children) any_running = any_running || c.running;
    if (stopping && any_running && Clock::now() >= kill_at) {
      signal_all(children, SIGKILL);
      kill_at = Clock::time_point::max();
    }
    if (!any_running) {
      bool open = false;
      for (auto& c : children) open = open || c.err_fd >= 0;
      if (!open) break;
    }
  }

  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGCHLD, &old_chld, nullptr);

  if (first_failure) {
    const Child& f = *first_failure;
    std::cerr << "sigtrain launch: FAILED: rank " << f.rank << " (local rank " << f.local_rank << ") "
              << describe_status(f.status) << "\n";
    for (const auto& c : children)
      if (&c != &f) std::cerr << "  rank " << c.rank << " " << describe_status(c.status) << "\n";
    if (!f.tail.empty()) {
      std::cerr << "last lines of rank " << f.rank << "'s output:\n";
      for (const auto& line : f.tail) std::cerr << "  | " << line << "\n";
    }
    std::cerr.flush();
    const int code = exit_code_of(f.status);
    return code == 0 ? 1 : code;
  }
  if (g_stop_signal) return 128 + g_stop_signal;
  return 0;
}

}  // namespace sigtrain::trainer
