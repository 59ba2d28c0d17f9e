#include "data/byte_tokenizer.h"

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"

#include <stdexcept>

namespace sigtrain::data {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id >= 0 && id < 256) {
      out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    } else if (id == kEndOfText) {
      out.append(kEndOfTextText);
    } else {
      throw std::runtime_error("byte tokenizer: cannot decode id " + std::to_string(id) + " (vocab size " +
                               std::to_string(kVocabSize) + ")");
    }
  }
  return out;
}

void ByteTokenizer::save(const std::filesystem::path& dir) const {
  std::filesystem::create_directories(dir);
  const nlohmann::json j = {{"kind", "byte"}, {"identity", identity()}, {"vocab_size", kVocabSize},
                            {"eot_id", kEndOfText}};
  sigtrain::write_file_atomic((dir / "tokenizer.json").string(), j.dump(2) + "\n");
}

}  // namespace sigtrain::data
