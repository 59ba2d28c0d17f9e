#include "data/vision/loader_state.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "data/fnv1a.h"

namespace sigtrain::vision {
namespace {

const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key))
    throw std::runtime_error(std::string("image loader state: missing field '") + key + "'");
  return j.at(key);
}

int64_t int_field(const nlohmann::json& j, const char* key) {
  const auto& v = field(j, key);
  if (!v.is_number_integer())
    throw std::runtime_error(std::string("image loader state: field '") + key + "' must be an integer");
  return v.get<int64_t>();
}

uint64_t hex_field(const nlohmann::json& j, const char* key) {
  const auto& v = field(j, key);
  const std::optional<uint64_t> value = data::parse_hex64(v.is_string() ? v.get<std::string>() : std::string());
  if (!value)
    throw std::runtime_error(std::string("image loader state: field '") + key + "' must be a hex string, got " +
                             v.dump());
  return *value;
}

}  // namespace

nlohmann::json LoaderState::to_json() const {
  return {{"next_sample", next_sample},
          {"seed", data::hex64(seed)},
          {"dataset_size", dataset_size},
          {"dataset_fingerprint", data::hex64(dataset_fingerprint)}};
}

LoaderState LoaderState::from_json(const nlohmann::json& j) {
  LoaderState s;
  s.next_sample = int_field(j, "next_sample");
  s.seed = hex_field(j, "seed");
  s.dataset_size = int_field(j, "dataset_size");
  s.dataset_fingerprint = hex_field(j, "dataset_fingerprint");
  if (s.next_sample < 0) throw std::runtime_error("image loader state: next_sample is negative");
  return s;
}

}  // namespace sigtrain::vision
