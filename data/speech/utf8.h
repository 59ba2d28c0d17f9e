#pragma once
// Splitting UTF-8 text into characters (code points), for the character vocabulary and CER. A byte that does not
// start a well-formed sequence becomes a one-byte "character" of its own, so malformed text is reported as unknown
// characters rather than silently merged.
#include <string>
#include <string_view>
#include <vector>

namespace sigtrain::speech {

std::vector<std::string> utf8_chars(std::string_view text);

}  // namespace sigtrain::speech
