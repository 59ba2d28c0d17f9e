#include "data/speech/char_vocab.h"

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>

#include "common/atomic_file.h"
#include "data/fnv1a.h"
#include "data/speech/speech_error.h"
#include "data/speech/utf8.h"

namespace sigtrain::speech {
namespace {

constexpr const char* kKind = "char_ctc";

}  // namespace

CharVocab::CharVocab(std::vector<std::string> symbols) : symbols_(std::move(symbols)) {
  for (size_t i = 0; i < symbols_.size(); ++i) {
    if (!ids_.emplace(symbols_[i], static_cast<int32_t>(i)).second)
      throw std::runtime_error("character vocabulary: symbol '" + symbols_[i] + "' appears twice");
  }
  if (symbols_.empty() || symbols_[0] != kBlankSymbol)
    throw std::runtime_error(std::string("character vocabulary: id 0 must be the CTC blank '") + kBlankSymbol + "'");
}

CharVocab CharVocab::english(LetterCase letter_case) {
  std::vector<std::string> s{kBlankSymbol, " ", "'"};
  const char first = letter_case == LetterCase::kUpper ? 'A' : 'a';
  for (char c = first; c < first + 26; ++c) s.emplace_back(1, c);
  return CharVocab(std::move(s));
}

CharVocab CharVocab::build(const std::vector<std::string>& texts) {
  std::set<std::string> seen;  // std::string order = UTF-8 byte order = code-point order
  for (const auto& t : texts)
    for (auto& ch : utf8_chars(t)) seen.insert(std::move(ch));
  std::vector<std::string> s{kBlankSymbol, " ", "'"};
  for (const auto& ch : seen)
    if (ch != " " && ch != "'") s.push_back(ch);
  return CharVocab(std::move(s));
}

std::string CharVocab::kind() const { return kKind; }

std::string CharVocab::identity() const {
  data::Fnv1a64 h;
  for (const auto& s : symbols_) h.update_field(s);
  return std::string(kKind) + "/" + data::hex64(h.digest());
}

int32_t CharVocab::id(const std::string& ch) const {
  const auto it = ids_.find(ch);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> CharVocab::encode(const std::string& text, UnknownCharPolicy policy, UnknownCharReport* report,
                                       const std::string& context) const {
  std::vector<int32_t> ids;
  bool any_unknown = false;
  for (const auto& ch : utf8_chars(text)) {
    const int32_t i = id(ch);
    if (i > kBlank) {
      ids.push_back(i);
      continue;
    }
    // The blank's symbol never occurs as one character, so i == kBlank cannot happen; i < 0 is unknown.
    if (policy == UnknownCharPolicy::kError) throw_unknown_char(ch, context);
    any_unknown = true;
    if (report != nullptr) report->add(ch);
  }
  if (report != nullptr && any_unknown) ++report->texts;
  return ids;
}

std::string CharVocab::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (int32_t i : ids)
    if (i > kBlank && i < size()) text += symbols_[static_cast<size_t>(i)];
  return text;
}

nlohmann::json CharVocab::to_json() const { return {{"kind", kKind}, {"blank", kBlank}, {"symbols", symbols_}}; }

CharVocab CharVocab::from_json(const nlohmann::json& j) {
  if (!j.is_object() || j.value("kind", "") != kKind)
    throw std::runtime_error(std::string("character vocabulary: expected an object with \"kind\": \"") + kKind + "\"");
  if (!j.contains("symbols") || !j.at("symbols").is_array())
    throw std::runtime_error("character vocabulary: missing array field 'symbols'");
  return CharVocab(j.at("symbols").get<std::vector<std::string>>());
}

void CharVocab::save(const std::string& path) const { write_file_atomic(path, to_json().dump(1) + "\n"); }

CharVocab CharVocab::load(const std::string& path) {
  try {
    return from_json(nlohmann::json::parse(read_file(path)));
  } catch (const std::exception& e) {
    throw_data_error(path, 0, e.what());
  }
}

}  // namespace sigtrain::speech
