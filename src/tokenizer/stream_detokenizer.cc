#include "tokenizer/stream_detokenizer.h"

#include "tokenizer/utf8.h"

namespace baleen::tokenizer {

void StreamDetokenizer::push(uint32_t id, std::string& out) {
  const std::string_view bytes = tokenizer_.token_bytes(id);
  if (options_.skip_special && tokenizer_.is_special(id)) return;
  pending_.append(bytes);
  size_t pos = 0;
  while (pos < pending_.size()) {
    const Utf8Step step = utf8_step(pending_, pos);
    if (step.kind == Utf8Step::Kind::kIncomplete) break;
    if (step.kind == Utf8Step::Kind::kValid) {
      out.append(pending_, pos, step.length);
    } else {
      out.append(kReplacementChar);
    }
    pos += step.length;
  }
  pending_.erase(0, pos);
}

std::string StreamDetokenizer::push(uint32_t id) {
  std::string out;
  push(id, out);
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacementChar);
  pending_.clear();
  return out;
}

}  // namespace baleen::tokenizer
