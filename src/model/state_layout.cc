#include "model/state_layout.h"

#include <algorithm>

#include "core/error.h"
#include "model/kv_codec.h"

namespace baleen {
namespace {

constexpr int64_t kF32 = 4;

}  // namespace

StateStorage parse_state_storage(std::string_view name) {
  if (name == "fp32") return StateStorage::kFp32;
  if (name == "paper") return StateStorage::kPaper;
  fail("KV storage must be paper or fp32, got '{}'", name);
}

int64_t kv_entry_bytes(const Config& c, StateStorage storage) {
  const KvFormat f = storage == StateStorage::kFp32 ? KvFormat::kF32 : KvFormat::kFp8Rope;
  return KvCodec(f, c.head_dim, c.rope_head_dim).row_bytes();
}

int64_t indexer_entry_bytes(const Config& c, StateStorage storage) {
  const KvFormat f = storage == StateStorage::kFp32 ? KvFormat::kF32 : KvFormat::kFp4;
  return KvCodec(f, c.index_head_dim, 0).row_bytes();
}

LayerStateBytes layer_state_bytes(const Config& c, const LayerSpec& layer, int64_t tokens,
                                  StateStorage storage) {
  check(tokens >= 0, "session state: token count {} is negative", tokens);
  LayerStateBytes b;
  const int64_t e = kv_entry_bytes(c, storage);
  b.window = std::min(tokens, c.sliding_window) * e;
  const AttentionKind kind = layer.attention();
  if (kind == AttentionKind::kSliding) return b;
  const int64_t m = layer.compress_ratio, entries = tokens / m, open = tokens % m;
  const bool closed = tokens >= m;
  b.compressed = entries * e;
  if (kind == AttentionKind::kHca) {
    b.tail = open * 2 * c.head_dim * kF32;
    return b;
  }
  const int64_t d = c.head_dim, di = c.index_head_dim;
  b.indexer = entries * indexer_entry_bytes(c, storage);
  b.tail = open * 4 * d * kF32 + (closed ? m * 2 * d * kF32 : 0)  // main compressor: open window + overlap
           + open * 4 * di * kF32 + (closed ? m * 2 * di * kF32 : 0);  // indexer compressor
  return b;
}

int64_t session_bytes(const Config& c, int64_t tokens, StateStorage storage) {
  int64_t total = 0;
  for (const auto& layer : c.layers) total += layer_state_bytes(c, layer, tokens, storage).total();
  return total;
}

}  // namespace baleen
