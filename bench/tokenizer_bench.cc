// Tokenizer encode throughput over the parity corpus (tests/fixtures/tokenizer/corpus.jsonl), one
// thread, the installed DeepSeek-V3 file + V4 tokens: the same work HF `tokenizers` was timed on in
// tests/fixtures/tokenizer/hf_timing.json (one encode per line, no BOS). Reports MB/s and tokens/s.
//   build/release/bench/tokenizer_bench
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "tokenizer/deepseek_v4_tokens.h"

namespace {

using baleen::tokenizer::Tokenizer;

std::vector<std::string> corpus() {
  std::ifstream in(std::string(BALEEN_SOURCE_DIR) + "/tests/fixtures/tokenizer/corpus.jsonl");
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  }
  return texts;
}

const Tokenizer& tokenizer() {
  static const Tokenizer tok = baleen::tokenizer::load_deepseek_v4(baleen::tokenizer::default_tokenizer_path());
  return tok;
}

// Whole corpus per iteration. The BPE cache is warm after the first pass, as HF's is in its timing
// (it encodes the corpus three times and takes the fastest).
void BM_EncodeCorpus(benchmark::State& state) {
  const std::vector<std::string> texts = corpus();
  const Tokenizer& tok = tokenizer();
  size_t bytes = 0, tokens = 0;
  for (const std::string& t : texts) bytes += t.size();
  std::vector<uint32_t> ids;
  for (auto _ : state) {
    tokens = 0;
    for (const std::string& t : texts) {
      ids.clear();
      tok.encode(t, ids);
      tokens += ids.size();
    }
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["lines"] = static_cast<double>(texts.size());
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeCorpus)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Decode of the corpus ids back to text (for scale; decode is a table lookup per id).
void BM_DecodeCorpus(benchmark::State& state) {
  const std::vector<std::string> texts = corpus();
  const Tokenizer& tok = tokenizer();
  std::vector<std::vector<uint32_t>> all;
  size_t bytes = 0;
  for (const std::string& t : texts) all.push_back(tok.encode(t)), bytes += t.size();
  for (auto _ : state) {
    for (const auto& ids : all) benchmark::DoNotOptimize(tok.decode(ids));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_DecodeCorpus)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
