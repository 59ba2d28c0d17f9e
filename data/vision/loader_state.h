#pragma once
// What a checkpoint stores to continue the image stream: one global counter plus what it is only valid for.
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace sigtrain::vision {

struct LoaderState {
  int64_t next_sample = 0;           // global stream index of the next step's first sample
  uint64_t seed = 0;                 // the run seed that permutations and augmentation derive from
  int64_t dataset_size = 0;          // images in the training source
  uint64_t dataset_fingerprint = 0;  // ImageSource::fingerprint()

  // uint64 fields as hex strings (JSON readers elsewhere lose precision above 2^53), as data::SamplerState.
  nlohmann::json to_json() const;
  // Throws std::runtime_error naming the missing or ill-typed field.
  static LoaderState from_json(const nlohmann::json& j);
};

}  // namespace sigtrain::vision
