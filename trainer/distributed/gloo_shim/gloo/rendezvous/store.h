#pragma once
// Declarations-only stand-in for the Gloo headers that <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp> includes.
//
// Why: the PyPI LibTorch wheel ships ProcessGroupGloo.hpp and exports its symbols (Gloo is linked statically into
// libtorch_cpu.so), but it does not ship Gloo's own headers. ProcessGroupGloo.hpp only needs the Gloo *names*:
// Context, transport::Device and transport::UnboundBuffer are held through smart pointers (incomplete types are
// fine; Context declares the one member an inline function calls), and rendezvous::Store must be a complete class because ProcessGroupGloo::GlooStore derives from it.
// The Store below mirrors the virtual interface of gloo (pytorch/gloo, gloo/common/store.h and
// gloo/rendezvous/store.h, 2025-2026) so GlooStore's `override`s compile. sigtrain never creates a GlooStore or
// touches any Gloo object directly: it only calls ProcessGroupGloo's exported constructor and static device
// factories, whose layouts do not depend on Gloo's types. Only trainer/distributed/distributed.cpp sees this
// directory.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#define GLOO_STORE_HAS_STORE_V2 1

namespace gloo {

// Only the member that ProcessGroupGloo::setTimeout (inline in the header) calls; defined in libtorch_cpu.so.
// Never instantiated here: the real object is created inside LibTorch.
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};

namespace transport {
class Device;
class UnboundBuffer;
}  // namespace transport

class IStore {
 public:
  virtual ~IStore() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual std::vector<char> wait_get(const std::string& key, const std::chrono::milliseconds& timeout) {
    wait({key}, timeout);
    return get(key);
  }
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
  virtual bool has_v2_support() = 0;
  virtual std::vector<std::vector<char>> multi_get(const std::vector<std::string>& keys) = 0;
  virtual void multi_set(const std::vector<std::string>& keys, const std::vector<std::vector<char>>& values) = 0;
  virtual void append(const std::string& key, const std::vector<char>& value) = 0;
  virtual int64_t add(const std::string& key, int64_t value) = 0;
};

namespace rendezvous {

class Store : public IStore {
 public:
  ~Store() override = default;
  void set(const std::string& key, const std::vector<char>& data) override = 0;
  std::vector<char> get(const std::string& key) override = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& /*timeout*/) override {
    wait(keys);
  }
  bool has_v2_support() override { return false; }
  std::vector<std::vector<char>> multi_get(const std::vector<std::string>& /*keys*/) override { return {}; }
  void multi_set(const std::vector<std::string>& /*keys*/, const std::vector<std::vector<char>>& /*values*/) override {}
  void append(const std::string& /*key*/, const std::vector<char>& /*data*/) override {}
  int64_t add(const std::string& /*key*/, int64_t /*value*/) override { return 0; }
};

}  // namespace rendezvous
}  // namespace gloo
