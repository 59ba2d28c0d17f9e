#include "trainer/checkpoint/checkpoint.h"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/remove_tree.h"
#include "sigtrain/build_info.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "sigtrain-checkpoint-v1";

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << std::hex;
  os.width(16);
  os.fill('0');
  os << v;
  return os.str();
}

std::string file_digest(const fs::path& p) {
  std::string bytes = read_file(p.string());
  return hex(fnv1a(bytes.data(), bytes.size()));
}

std::string step_dir_name(int64_t step) {
  std::ostringstream os;
  os << "step_";
  os.width(8);
  os.fill('0');
  os << step;
  return os.str();
}

std::vector<fs::path> complete_checkpoints(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  static const std::regex name_re("step_[0-9]+");
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && std::regex_match(e.path().filename().string(), name_re) &&
        fs::exists(e.path() / "DONE"))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void save_rng(const fs::path& path) {
  torch::serialize::OutputArchive ar;
  ar.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (torch::cuda::is_available()) {
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
      ar.write("cuda" + std::to_string(i),
               at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)))
                   .get_state());
  }
  ar.save_to(path.string());
}

void load_rng(const fs::path& path) {
  torch::serialize::InputArchive ar;
  ar.load_from(path.string());
  at::Tensor state;
  ar.read("cpu", state);
  at::Generator cpu_gen = at::detail::getDefaultCPUGenerator();
  cpu_gen.set_state(state);
  if (torch::cuda::is_available()) {
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
      at::Tensor s;
      if (ar.try_read("cuda" + std::to_string(i), s)) {
        at::Generator gen =
            at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
        gen.set_state(s);
      }
    }
  }
}

[[noreturn]] void fail(const fs::path& dir, const std::string& what) {
  throw CheckpointError("checkpoint " + dir.string() + ": " + what);
}

}  // namespace

CheckpointManager::CheckpointManager(std::string checkpoints_dir, int64_t keep_last)
    : dir_(std::move(checkpoints_dir)), keep_last_(keep_last) {}

std::string CheckpointManager::save(int64_t step, const torch::nn::Module& model,
                                    const torch::optim::Optimizer& optimizer, const nlohmann::json& state,
                                    const std::string& config_yaml, const std::function<void()>& before_done) {
  fs::create_directories(dir_);
  const fs::path final_dir = fs::path(dir_) / step_dir_name(step);
  const fs::path tmp_dir = fs::path(dir_) / (step_dir_name(step) + ".tmp-" + std::to_string(::getpid()));
  remove_tree(tmp_dir.string());
  fs::create_directories(tmp_dir);

  {
    torch::serialize::OutputArchive ar;
    for (const auto& p : model.named_parameters(/*recurse=*/true)) ar.write(p.key(), p.value().detach().cpu());
    for (const auto& b : model.named_buffers(/*recurse=*/true)) ar.write(b.key(), b.value().detach().cpu(), true);
    ar.save_to((tmp_dir / "model.pt").string());
  }
  {
    torch::serialize::OutputArchive ar;
    optimizer.save(ar);
    ar.save_to((tmp_dir / "optimizer.pt").string());
  }
  save_rng(tmp_dir / "rng.pt");
  write_file_atomic((tmp_dir / "config.yaml").string(), config_yaml);

  nlohmann::json meta;
  meta["format"] = kFormat;
  meta["step"] = step;
  meta["state"] = state;
  meta["build"] = {{"version", build_info::kVersion},
                   {"git_commit", build_info::kGitCommit},
                   {"torch", build_info::kTorchVersion}};
  for (const char* f : {"model.pt", "optimizer.pt", "rng.pt", "config.yaml"})
    meta["checksums"][f] = file_digest(tmp_dir / f);
  write_file_atomic((tmp_dir / "state.json").string(), meta.dump(2) + "\n");
  fsync_directory(tmp_dir.string());

  if (fs::exists(final_dir)) {
    // Same step saved before (e.g. a resumed run re-saving): keep the old one until the new one is in place.
    const fs::path old = fs::path(dir_) / (step_dir_name(step) + ".old-" + std::to_string(::getpid()));
    fs::rename(final_dir, old);
    fs::rename(tmp_dir, final_dir);
    remove_tree(old.string());
  } else {
    fs::rename(tmp_dir, final_dir);
  }
  if (before_done) before_done();
  write_file_atomic((final_dir / "DONE").string(), std::to_string(step) + "\n");
  fsync_directory(dir_);

  auto all = complete_checkpoints(dir_);
  for (size_t i = 0; i + static_cast<size_t>(keep_last_) < all.size(); ++i) remove_tree(all[i].string());
  return final_dir.string();
}

std::optional<std::string> find_latest_checkpoint(const std::string& path) {
  fs::path p(path);
  if (fs::exists(p / "DONE")) return p.string();
  for (const fs::path& dir : {p, p / "checkpoints"}) {
    auto all = complete_checkpoints(dir);
    if (!all.empty()) return all.back().string();
  }
  return std::nullopt;
}

CheckpointContents peek_checkpoint(const std::string& checkpoint_dir) {
  const fs::path dir(checkpoint_dir);
  if (!fs::is_directory(dir)) fail(dir, "not a folder");
  if (!fs::exists(dir / "DONE")) fail(dir, "incomplete (no DONE marker): it was not finished writing");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(read_file((dir / "state.json").string()));
  } catch (const std::exception& e) {
    fail(dir, std::string("state.json unreadable: ") + e.what());
  }
  if (meta.value("format", "") != kFormat)
    fail(dir, "state.json: expected format '" + std::string(kFormat) + "', got '" + meta.value("format", "") + "'");
  for (auto& [file, digest] : meta["checksums"].items()) {
    if (!fs::exists(dir / file)) fail(dir, file + " is missing");
    if (file_digest(dir / file) != digest.get<std::string>())
      fail(dir, file + " is damaged (checksum mismatch: expected " + digest.get<std::string>() + ", got " +
                    file_digest(dir / file) + ")");
  }
  CheckpointContents c;
  c.step = meta.at("step").get<int64_t>();
  c.state = meta.at("state");
  c.config_yaml = read_file((dir / "config.yaml").string());
  return c;
}

CheckpointContents load_checkpoint(const std::string& checkpoint_dir, torch::nn::Module& model,
                                   torch::optim::Optimizer& optimizer) {
  const fs::path dir(checkpoint_dir);
  CheckpointContents c = peek_checkpoint(checkpoint_dir);
  try {
    torch::serialize::InputArchive ar;
    ar.load_from((dir / "model.pt").string());
    torch::NoGradGuard no_grad;
    for (auto& p : model.named_parameters(true)) {
      at::Tensor t;
      if (!ar.try_read(p.key(), t)) fail(dir, "model.pt has no parameter '" + p.key() + "' (another architecture?)");
      if (t.sizes() != p.value().sizes()) {
        std::ostringstream os;
        os << "model.pt: parameter '" << p.key() << "' has shape " << t.sizes() << ", the model expects "
           << p.value().sizes();
        fail(dir, os.str());
      }
      p.value().copy_(t);
    }
    for (auto& b : model.named_buffers(true)) {
      at::Tensor t;
      if (ar.try_read(b.key(), t, true) && t.sizes() == b.value().sizes()) b.value().copy_(t);
    }
  } catch (const c10::Error& e) {
    fail(dir, std::string("model.pt unreadable: ") + e.what_without_backtrace());
  }
  try {
    torch::serialize::InputArchive ar;
    ar.load_from((dir / "optimizer.pt").string());
    optimizer.load(ar);
    load_rng(dir / "rng.pt");
  } catch (const c10::Error& e) {
    fail(dir, std::string("optimizer.pt/rng.pt unreadable: ") + e.what_without_backtrace());
  }
  return c;
}

std::string parameter_digest(const torch::nn::Module& model) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& p : model.named_parameters(true)) {
    h = fnv1a(p.key().data(), p.key().size(), h);
    at::Tensor t = p.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    h = fnv1a(t.data_ptr(), static_cast<size_t>(t.numel()) * sizeof(float), h);
  }
  return hex(h);
}

}  // namespace sigtrain::trainer
