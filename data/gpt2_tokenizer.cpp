#include "data/gpt2_tokenizer.h"

#include <unicode/uchar.h>

#include <nlohmann/json.hpp>

#include <climits>
#include <stdexcept>

#include "common/atomic_file.h"
#include "data/fnv1a.h"

namespace sigtrain::data {
namespace fs = std::filesystem;
namespace {

void append_utf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Decodes one code point at text[i]; invalid UTF-8 yields one byte as U+FFFD-like "other" (length 1), which the
// pre-tokenizer treats as punctuation, so any byte string still encodes and round-trips.
char32_t next_code_point(std::string_view text, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  auto cont = [&](size_t k) {
    return i + k < text.size() && (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
  };
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    *len = 2;
    return ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
  }
  if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    *len = 3;
    return ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
  }
  if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    *len = 4;
    return ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(text[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(text[i + 3]) & 0x3Fu);
  }
  *len = 1;
  return 0xFFFD;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER || t == U_MODIFIER_LETTER ||
         t == U_OTHER_LETTER;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

// Unicode White_Space (what \s matches in the regex engines GPT-2 encoders use).
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

enum class Cls { kLetter, kNumber, kSpace, kOther };
Cls classify(char32_t c) {
  if (is_letter(c)) return Cls::kLetter;
  if (is_number(c)) return Cls::kNumber;
  if (is_space(c)) return Cls::kSpace;
  return Cls::kOther;
}

}  // namespace

std::vector<std::string_view> Gpt2Tokenizer::pretokenize(std::string_view text) {
  // Code points with their byte offsets (offsets has one extra entry: text.size()).
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    cps.push_back(next_code_point(text, i, &len));
    offsets.push_back(i);
    i += len;
  }
  offsets.push_back(text.size());
  const size_t n = cps.size();
  std::vector<Cls> cls(n);
  for (size_t i = 0; i < n; ++i) cls[i] = classify(cps[i]);

  std::vector<std::string_view> pieces;
  auto emit = [&](size_t from, size_t to) { pieces.push_back(text.substr(offsets[from], offsets[to] - offsets[from])); };
  auto run_of = [&](size_t from, Cls c) {
    size_t j = from;
    while (j < n && cls[j] == c) ++j;
    return j;
  };
  size_t i = 0;
  while (i < n) {
    // 's|'t|'re|'ve|'m|'ll|'d
    if (cps[i] == U'\'' && i + 1 < n) {
      const char32_t a = cps[i + 1];
      const char32_t b = i + 2 < n ? cps[i + 2] : 0;
      size_t len = 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') len = 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) len = 3;
      if (len > 0) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    // ` ?X+` for X = letters, numbers, other (not space/letter/number): the optional space only matters when the
    // current character is ' ' and the next one is an X.
    const size_t body = (cps[i] == U' ' && i + 1 < n && cls[i + 1] != Cls::kSpace) ? i + 1 : i;
    if (cls[body] != Cls::kSpace) {
      const size_t end = run_of(body, cls[body]);
      emit(i, end);
      i = end;
      continue;
    }
    // \s+(?!\S): the whitespace run, minus its last character when a non-space follows; else \s+ (one character).
    const size_t end = run_of(i, Cls::kSpace);
    size_t take = end;
    if (end < n && end - i > 1) take = end - 1;
    else if (end < n) take = i + 1;
    emit(i, take);
    i = take;
  }
  return pieces;
}

std::unique_ptr<Gpt2Tokenizer> Gpt2Tokenizer::load(const fs::path& dir) {
  std::unique_ptr<Gpt2Tokenizer> tok(new Gpt2Tokenizer());
  const fs::path enc_path = dir / "encoder.json";
  const fs::path bpe_path = dir / "vocab.bpe";
  tok->encoder_json_ = sigtrain::read_file(enc_path.string());
  tok->vocab_bpe_ = sigtrain::read_file(bpe_path.string());

  // GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards.
  int shifted = 0;
  std::unordered_map<std::string, unsigned char> unicode_to_byte;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + shifted++);
    append_utf8(cp, &tok->byte_to_unicode_[b]);
    unicode_to_byte[tok->byte_to_unicode_[b]] = static_cast<unsigned char>(b);
  }

  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(tok->encoder_json_);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(enc_path.string() + ": not valid JSON: " + e.what());
  }
  if (!enc.is_object() || enc.size() != kVocabSize)
    throw std::runtime_error(enc_path.string() + ": expected an object with " + std::to_string(kVocabSize) +
                             " entries (GPT-2's encoder.json)");
  tok->id_to_bytes_.assign(kVocabSize, std::string());
  std::vector<bool> seen(kVocabSize, false);
  for (const auto& [token, id_json] : enc.items()) {
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= kVocabSize || seen[static_cast<size_t>(id)])
      throw std::runtime_error(enc_path.string() + ": bad or duplicate id " + std::to_string(id) + " for '" + token + "'");
    seen[static_cast<size_t>(id)] = true;
    tok->token_to_id_.emplace(token, static_cast<int32_t>(id));
    if (id == kEndOfText) {
      if (token != kEndOfTextText)
        throw std::runtime_error(enc_path.string() + ": id 50256 should be <|endoftext|>, is '" + token + "'");
      tok->id_to_bytes_[static_cast<size_t>(id)] = std::string(kEndOfTextText);
      continue;
    }
    std::string bytes;
    for (size_t i = 0; i < token.size();) {
      size_t len = 1;
      next_code_point(token, i, &len);
      const auto it = unicode_to_byte.find(token.substr(i, len));
      if (it == unicode_to_byte.end())
        throw std::runtime_error(enc_path.string() + ": token '" + token + "' is outside GPT-2's byte alphabet");
      bytes.push_back(static_cast<char>(it->second));
      i += len;
    }
    tok->id_to_bytes_[static_cast<size_t>(id)] = std::move(bytes);
  }

  // vocab.bpe: "#version: 0.2" then one merge "left right" per line, rank = line order.
  std::string_view rest(tok->vocab_bpe_);
  int32_t rank = 0;
  int line_no = 0;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.starts_with("#version")) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos)
      throw std::runtime_error(bpe_path.string() + ":" + std::to_string(line_no) + ": expected 'left right'");
    tok->merge_rank_.emplace(std::string(line), rank++);
  }
  if (rank != 50000)
    throw std::runtime_error(bpe_path.string() + ": expected 50000 merges, found " + std::to_string(rank));

  Fnv1a64 h;
  h.update_field(tok->encoder_json_);
  h.update_field(tok->vocab_bpe_);
  tok->identity_ = "gpt2/" + hex64(h.digest());
  return tok;
}

void Gpt2Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>* out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(std::string(piece));
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::string> word;
  word.reserve(piece.size());
  for (const char c : piece) word.push_back(byte_to_unicode_[static_cast<unsigned char>(c)]);
  // encoder.py's bpe(): repeatedly merge every occurrence of the lowest-ranked adjacent pair.
  while (word.size() > 1) {
    int32_t best = INT32_MAX;
    std::string best_left, best_right;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = merge_rank_.find(word[i] + " " + word[i + 1]);
      if (it != merge_rank_.end() && it->second < best) {
        best = it->second;
        best_left = word[i];
        best_right = word[i + 1];
      }
    }
    if (best == INT32_MAX) break;
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best_left && word[i + 1] == best_right) {
        merged.push_back(word[i] + word[i + 1]);
        i += 2;
      } else {
        merged.push_back(word[i]);
        i += 1;
      }
    }
    word.swap(merged);
  }
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  for (const auto& symbol : word) {
    const auto it = token_to_id_.find(symbol);
    if (it == token_to_id_.end()) throw std::runtime_error("gpt2: BPE produced a symbol missing from encoder.json");
    ids.push_back(it->second);
  }
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.emplace(std::string(piece), std::move(ids));
}

std::vector<int32_t> Gpt2Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  for (const std::string_view piece : pretokenize(text)) encode_piece(piece, &ids);
  return ids;
}

std::string Gpt2Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (const int32_t id : ids) {
    if (id < 0 || id >= kVocabSize)
      throw std::runtime_error("gpt2: cannot decode id " + std::to_string(id) + " (vocab size 50257)");
    out += id_to_bytes_[static_cast<size_t>(id)];
  }
  return out;
}

void Gpt2Tokenizer::save(const fs::path& dir) const {
  fs::create_directories(dir);
  sigtrain::write_file_atomic((dir / "encoder.json").string(), encoder_json_);
  sigtrain::write_file_atomic((dir / "vocab.bpe").string(), vocab_bpe_);
  const nlohmann::json j = {{"kind", "gpt2"}, {"identity", identity_}, {"vocab_size", kVocabSize},
                            {"eot_id", kEndOfText}};
  sigtrain::write_file_atomic((dir / "tokenizer.json").string(), j.dump(2) + "\n");
}

}  // namespace sigtrain::data
