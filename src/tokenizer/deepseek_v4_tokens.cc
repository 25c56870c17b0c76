#include "tokenizer/deepseek_v4_tokens.h"

#include <array>

#include "core/error.h"

namespace baleen::tokenizer {
namespace {

struct Entry {
  const char* content;
  uint32_t id;
};

// V4's ids 128815-128846. <think> 128821, </think> 128822, ｜DSML｜ 128825, <｜latest_reminder｜> 128828 and
// the task tokens are confirmed by a public V4 tokenizer test; the rest come from a V4.1 table that agrees
// on every confirmed id (reference/NOTES.md, "Tokenizer"). All are special, matched on raw text, no strip,
// exactly as tests/fixtures/tokenizer/v4_added_tokens.json (the parity ids were made with it; a test
// checks the two agree).
constexpr std::array<Entry, 32> kEntries = {{
      {"<｜begin▁of▁repo▁name｜>", 128815},
      {"<｜end▁of▁repo▁name｜>", 128816},
      {"<｜begin▁of▁file▁name｜>", 128817},
      {"<｜end▁of▁file▁name｜>", 128818},
      {"<｜begin▁of▁file｜>", 128819},
      {"<｜end▁of▁file｜>", 128820},
      {"<think>", 128821},
      {"</think>", 128822},
      {"<｜place▁holder▁for▁copy｜>", 128823},
      {"<｜place▁holder▁for▁pointer▁replace｜>", 128824},
      {"｜DSML｜", 128825},
      {"<｜begin▁sys｜>", 128826},
      {"<｜end▁sys｜>", 128827},
      {"<｜latest_reminder｜>", 128828},
      {"<｜action｜>", 128829},
      {"<｜query｜>", 128830},
      {"<｜authority｜>", 128831},
      {"<｜domain｜>", 128832},
      {"<｜task｜>", 128833},
      {"<｜political｜>", 128834},
      {"<｜entity｜>", 128835},
      {"<｜title｜>", 128836},
      {"<｜safety｜>", 128837},
      {"<｜answer｜>", 128838},
      {"<｜search｜>", 128839},
      {"<dsml:", 128840},
      {"</dsml:", 128841},
      {"<｜search▁begin｜>", 128842},
      {"<｜search▁end｜>", 128843},
      {"<｜extracted_url｜>", 128844},
      {"<｜read_url｜>", 128845},
      {"<｜end_of_query｜>", 128846},
}};

}  // namespace

std::span<const AddedToken> deepseek_v4_added_tokens() {
  static const std::vector<AddedToken> tokens = [] {
    std::vector<AddedToken> list;
    for (const Entry& e : kEntries) list.push_back(AddedToken{e.content, e.id, true, false, false, false});
    return list;
  }();
  return tokens;
}

Tokenizer load_deepseek_v4(const std::filesystem::path& file) {
  Tokenizer tokenizer = Tokenizer::load(file);
  tokenizer.add_tokens(deepseek_v4_added_tokens());
  return tokenizer;
}

}  // namespace baleen::tokenizer
