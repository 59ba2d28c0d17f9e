#include "data/token_shard.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/fnv1a.h"
#include "common/atomic_file.h"

namespace sigtrain::data {
namespace fs = std::filesystem;

// The on-disk format is little-endian; we read and write it with memcpy of native integers.
static_assert(std::endian::native == std::endian::little, "token shards assume a little-endian host");

namespace {

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t bytes_per_token;
  uint64_t count;
  uint32_t vocab_size;
  uint32_t header_bytes;
  uint64_t checksum;
  uint8_t reserved[24];
};
static_assert(sizeof(Header) == kTokenShardHeaderBytes);

std::string describe(const fs::path& path) { return "token shard " + path.string(); }

template <typename T>
std::string pack_payload(const fs::path& path, std::span<const int32_t> tokens, int64_t vocab_size) {
  std::string bytes(tokens.size() * sizeof(T), '\0');
  T* out = reinterpret_cast<T*>(bytes.data());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t id = tokens[i];
    if (id < 0 || id >= vocab_size)
      throw std::runtime_error(describe(path) + ": token " + std::to_string(i) + " has id " + std::to_string(id) +
                               ", outside [0, " + std::to_string(vocab_size) + ")");
    out[i] = static_cast<T>(id);
  }
  return bytes;
}

}  // namespace

TokenDtype dtype_for_vocab(int64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDtype::kUint16 : TokenDtype::kUint32;
}

void write_token_shard(const fs::path& path, std::span<const int32_t> tokens, int64_t vocab_size) {
  if (vocab_size <= 0 || vocab_size > INT32_MAX)
    throw std::runtime_error(describe(path) + ": vocab size " + std::to_string(vocab_size) + " out of range");
  const TokenDtype dtype = dtype_for_vocab(vocab_size);
  const std::string payload = dtype == TokenDtype::kUint16 ? pack_payload<uint16_t>(path, tokens, vocab_size)
                                                           : pack_payload<uint32_t>(path, tokens, vocab_size);
  Header h{};
  std::memcpy(h.magic, kTokenShardMagic, sizeof(h.magic));
  h.version = kTokenShardVersion;
  h.bytes_per_token = static_cast<uint32_t>(dtype);
  h.count = tokens.size();
  h.vocab_size = static_cast<uint32_t>(vocab_size);
  h.header_bytes = kTokenShardHeaderBytes;
  h.checksum = fnv1a64(payload.data(), payload.size());
  std::string file(reinterpret_cast<const char*>(&h), sizeof(h));
  file += payload;
  sigtrain::write_file_atomic((path).string(), file);
}

void write_raw_uint16_tokens(const fs::path& path, std::span<const int32_t> tokens) {
  sigtrain::write_file_atomic((path).string(), pack_payload<uint16_t>(path, tokens, 65536));
}

TokenShard TokenShard::open(const fs::path& path, bool verify_checksum) {
  TokenShard s;
  s.file_ = std::make_shared<const MappedFile>(path);
  const MappedFile& file = *s.file_;
  const std::string what = describe(path);
  if (file.size() < sizeof(Header))
    throw std::runtime_error(what + ": truncated: " + std::to_string(file.size()) +
                             " bytes, shorter than the " + std::to_string(sizeof(Header)) + "-byte header");
  Header h;
  std::memcpy(&h, file.data(), sizeof(h));
  if (std::memcmp(h.magic, kTokenShardMagic, sizeof(h.magic)) != 0)
    throw std::runtime_error(what + ": bad magic (expected \"SIGTOKEN\"; not a sigtrain token shard — for nanoGPT "
                             "raw uint16 files use open_raw_uint16)");
  if (h.version != kTokenShardVersion)
    throw std::runtime_error(what + ": unsupported format version " + std::to_string(h.version) +
                             " (this build reads version " + std::to_string(kTokenShardVersion) + ")");
  if (h.bytes_per_token != 2 && h.bytes_per_token != 4)
    throw std::runtime_error(what + ": bad bytes-per-token " + std::to_string(h.bytes_per_token) +
                             " (expected 2 or 4)");
  if (h.header_bytes != kTokenShardHeaderBytes)
    throw std::runtime_error(what + ": bad header size " + std::to_string(h.header_bytes) + " (expected " +
                             std::to_string(kTokenShardHeaderBytes) + ")");
  // Compare by division so a corrupt, huge count cannot overflow into a matching size.
  const uint64_t payload_bytes = file.size() - kTokenShardHeaderBytes;
  if (payload_bytes % h.bytes_per_token != 0 || payload_bytes / h.bytes_per_token != h.count) {
    const bool truncated = payload_bytes / h.bytes_per_token < h.count;
    throw std::runtime_error(what + ": " + (truncated ? "truncated" : "trailing bytes") + ": " +
                             std::to_string(payload_bytes) + " payload bytes, header promises " +
                             std::to_string(h.count) + " tokens of " + std::to_string(h.bytes_per_token) + " bytes");
  }
  s.payload_ = file.data() + kTokenShardHeaderBytes;
  s.count_ = static_cast<int64_t>(h.count);
  s.vocab_size_ = h.vocab_size;
  s.dtype_ = static_cast<TokenDtype>(h.bytes_per_token);
  s.checksum_ = h.checksum;
  if (verify_checksum) {
    const uint64_t actual = fnv1a64(s.payload_, file.size() - kTokenShardHeaderBytes);
    if (actual != h.checksum)
      throw std::runtime_error(what + ": payload checksum mismatch (header " + hex64(h.checksum) + ", data " +
                               hex64(actual) + "): the file is damaged");
  }
  return s;
}

TokenShard TokenShard::open_raw_uint16(const fs::path& path, int64_t vocab_size) {
  TokenShard s;
  s.file_ = std::make_shared<const MappedFile>(path);
  const MappedFile& file = *s.file_;
  if (file.size() % 2 != 0)
    throw std::runtime_error("raw uint16 token file " + path.string() + ": odd size " +
                             std::to_string(file.size()) + " bytes (truncated?)");
  s.payload_ = file.data();
  s.count_ = static_cast<int64_t>(file.size() / 2);
  s.dtype_ = TokenDtype::kUint16;
  s.checksum_ = fnv1a64(s.payload_, file.size());
  s.vocab_size_ = vocab_size > 0 ? vocab_size : 65536;
  if (vocab_size > 0) {
    for (int64_t i = 0; i < s.count_; ++i)
      if (s[i] >= vocab_size)
        throw std::runtime_error("raw uint16 token file " + path.string() + ": token " + std::to_string(i) +
                                 " has id " + std::to_string(s[i]) + " >= vocab size " + std::to_string(vocab_size));
  }
  return s;
}

const fs::path& TokenShard::path() const {
  static const fs::path kNone;
  return file_ ? file_->path() : kNone;
}

int32_t TokenShard::operator[](int64_t i) const {
  if (dtype_ == TokenDtype::kUint16) {
    uint16_t v;
    std::memcpy(&v, payload_ + i * 2, 2);
    return v;
  }
  uint32_t v;
  std::memcpy(&v, payload_ + i * 4, 4);
  return static_cast<int32_t>(v);
}

void TokenShard::copy(int64_t start, int64_t count, int32_t* out) const {
  if (start < 0 || count < 0 || start + count > count_)
    throw std::out_of_range(describe(path()) + ": tokens [" + std::to_string(start) + ", " +
                            std::to_string(start + count) + ") outside [0, " + std::to_string(count_) + ")");
  if (dtype_ == TokenDtype::kUint16) {
    const std::byte* p = payload_ + start * 2;
    for (int64_t i = 0; i < count; ++i) {
      uint16_t v;
      std::memcpy(&v, p + i * 2, 2);
      out[i] = v;
    }
  } else {
    std::memcpy(out, payload_ + start * 4, static_cast<size_t>(count) * 4);
  }
}

}  // namespace sigtrain::data
