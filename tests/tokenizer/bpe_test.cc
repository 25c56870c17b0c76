#include "tokenizer/bpe.h"

#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "test_tokenizers.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace baleen::tokenizer {
namespace {

// Plain BPE from the definition, on byte-level strings straight from the JSON: merge the adjacent
// pair of lowest rank (leftmost on ties) until none applies. Quadratic, shares no code with bpe.cc.
using Ranks = std::map<std::pair<std::string, std::string>, size_t>;

Ranks ranks_of(const nlohmann::json& model) {
  Ranks table;
  const auto& merges = model["merges"];
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string m = merges[i].get<std::string>();
    table.emplace(std::pair{m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)}, i);
  }
  return table;
}

std::vector<uint32_t> bpe_truth(const Ranks& table, const nlohmann::json& model, std::string_view bytes) {
  std::vector<std::string> symbols;
  for (const char c : bytes) symbols.push_back(bytes_to_byte_level(std::string(1, c)));
  for (;;) {
    size_t best = SIZE_MAX, at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = table.find({symbols[i], symbols[i + 1]});
      if (it != table.end() && it->second < best) best = it->second, at = i;
    }
    if (best == SIZE_MAX) break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + static_cast<ptrdiff_t>(at) + 1);
  }
  std::vector<uint32_t> ids;
  for (const std::string& s : symbols) ids.push_back(model["vocab"][s].get<uint32_t>());
  return ids;
}

TEST(Bpe, HeapMergeAndCacheMatchTheDefinitionOnRandomPieces) {
  const auto path = default_tokenizer_path();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "tokenizer not installed at " << path << " (scripts/setup.sh)";
  std::ifstream in(path);
  const nlohmann::json json = nlohmann::json::parse(in);
  const std::string file = path.string();
  const Bpe bpe = Bpe::from_json(JsonField{json, file, ""}.at("model"));
  const Ranks ranks = ranks_of(json["model"]);
  std::mt19937 rng(17);
  for (int trial = 0; trial < 600; ++trial) {
    // Real-looking pieces (words, spaces, code, CJK, emoji) and raw random bytes.
    std::string piece = trial % 3 == 0 ? std::string(1 + rng() % 12, '\0') : testing::random_text(rng, 1 + trial % 40);
    if (trial % 3 == 0) {
      for (char& c : piece) c = static_cast<char>(rng() % 256);
    }
    if (piece.empty()) continue;
    const std::vector<uint32_t> truth = bpe_truth(ranks, json["model"], piece);
    std::vector<uint32_t> uncached, cached_first, cached_again;
    bpe.encode_uncached(piece, uncached);
    bpe.encode(piece, cached_first);
    bpe.encode(piece, cached_again);
    ASSERT_EQ(uncached, truth) << "trial " << trial;
    ASSERT_EQ(cached_first, truth) << "trial " << trial;
    ASSERT_EQ(cached_again, truth) << "trial " << trial;
  }
}

}  // namespace
}  // namespace baleen::tokenizer
