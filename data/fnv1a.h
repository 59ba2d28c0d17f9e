#pragma once
// FNV-1a 64-bit: a tiny, portable, dependency-free hash. Used for shard payload checksums and for the corpus cache
// key. It is not cryptographic; it only has to catch truncation, bit rot and "which inputs made this cache entry".
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sigtrain::data {

class Fnv1a64 {
 public:
  void update(const void* bytes, size_t size) {
    const auto* p = static_cast<const unsigned char*>(bytes);
    uint64_t h = state_;
    for (size_t i = 0; i < size; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
    state_ = h;
  }
  void update(std::string_view text) { update(text.data(), text.size()); }
  // Hashes a field with its length first, so ("ab","c") and ("a","bc") differ.
  void update_field(std::string_view text) {
    const uint64_t n = text.size();
    update(&n, sizeof(n));
    update(text);
  }
  uint64_t digest() const { return state_; }

 private:
  uint64_t state_ = 14695981039346656037ULL;
};

inline uint64_t fnv1a64(const void* bytes, size_t size) {
  Fnv1a64 h;
  h.update(bytes, size);
  return h.digest();
}

// 16 lowercase hex digits.
std::string hex64(uint64_t value);
// The inverse of hex64 (any case, 1..16 digits, nothing else); nullopt for anything that is not such a number.
std::optional<uint64_t> parse_hex64(const std::string& text);

}  // namespace sigtrain::data
