#pragma once
// Binary token shards: a 64-byte little-endian header, then the token ids as uint16 or uint32.
//
//   offset size  field
//   0      8     magic "SIGTOKEN"
//   8      4     u32 format version (kTokenShardVersion = 1)
//   12     4     u32 bytes per token: 2 (uint16, vocab_size <= 65536) or 4 (uint32)
//   16     8     u64 token count
//   24     4     u32 vocab size (every id < vocab size)
//   28     4     u32 header size in bytes (64; the payload starts here)
//   32     8     u64 FNV-1a 64 checksum of the payload bytes
//   40     24    reserved, zero
//
// Files are written atomically (temporary file + rename) and read through mmap. Also reads nanoGPT-style raw
// `.bin` files (no header, little-endian uint16 ids).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "data/mapped_file.h"

namespace sigtrain::data {

inline constexpr char kTokenShardMagic[8] = {'S', 'I', 'G', 'T', 'O', 'K', 'E', 'N'};
inline constexpr uint32_t kTokenShardVersion = 1;
inline constexpr uint32_t kTokenShardHeaderBytes = 64;

enum class TokenDtype : uint32_t { kUint16 = 2, kUint32 = 4 };

// uint16 when every id fits (vocab_size <= 65536), else uint32.
TokenDtype dtype_for_vocab(int64_t vocab_size);

// Throws std::runtime_error naming the file when an id is outside [0, vocab_size) or the write fails.
void write_token_shard(const std::filesystem::path& path, std::span<const int32_t> tokens, int64_t vocab_size);
// nanoGPT's format: raw little-endian uint16 ids, no header. Ids must be < 65536.
void write_raw_uint16_tokens(const std::filesystem::path& path, std::span<const int32_t> tokens);

// Cheap to copy: copies share one read-only mapping, which lives as long as any copy (so a sampler can hold its own
// copy and never dangle when the LmData it came from moves).
class TokenShard {
 public:
  TokenShard() = default;
  // Validates magic, version, dtype, header size, file size and (when verify_checksum) the payload checksum; every
  // error names the file and what was expected.
  static TokenShard open(const std::filesystem::path& path, bool verify_checksum = true);
  // A nanoGPT `.bin`; `vocab_size` > 0 checks every id against it (the file does not record one).
  static TokenShard open_raw_uint16(const std::filesystem::path& path, int64_t vocab_size = 0);

  int64_t size() const { return count_; }
  int64_t vocab_size() const { return vocab_size_; }
  TokenDtype dtype() const { return dtype_; }
  uint64_t checksum() const { return checksum_; }  // of the payload; computed on open for raw files
  const std::filesystem::path& path() const;

  int32_t operator[](int64_t i) const;
  // Copies ids [start, start + count) into `out`; throws std::out_of_range naming the file when outside the shard.
  void copy(int64_t start, int64_t count, int32_t* out) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  const std::byte* payload_ = nullptr;
  int64_t count_ = 0;
  int64_t vocab_size_ = 0;
  TokenDtype dtype_ = TokenDtype::kUint16;
  uint64_t checksum_ = 0;
};

}  // namespace sigtrain::data
