#include "engine/session_state.h"

#include <algorithm>

#include "core/error.h"
#include "engine/weights.h"

namespace baleen {

KvRows::KvRows(KvCodec codec, int64_t ring_capacity) : codec_(codec), ring_(ring_capacity) {}

void KvRows::append(const float* row) {
  const int64_t rb = codec_.row_bytes();
  int64_t slot = count_;
  if (ring_ > 0) {
    slot = count_ % ring_;
    if (static_cast<int64_t>(data_.size()) < ring_ * rb) data_.resize(static_cast<size_t>((slot + 1) * rb));
  } else {
    data_.resize(static_cast<size_t>((count_ + 1) * rb));
  }
  codec_.encode(row, data_.data() + slot * rb, data_.data() + slot * rb + codec_.data_bytes());
  ++count_;
}

void KvRows::decode(int64_t first, int64_t n, float* out) const {
  const int64_t rb = codec_.row_bytes();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t logical = first + i, slot = ring_ > 0 ? logical % ring_ : logical;
    codec_.decode(data_.data() + slot * rb, data_.data() + slot * rb + codec_.data_bytes(), out + i * codec_.dim());
  }
}

int64_t KvRows::bytes() const {
  const int64_t held = ring_ > 0 ? std::min(count_, ring_) : count_;
  return held * codec_.row_bytes();
}

int64_t CompressorState::bytes() const {
  const auto floats = static_cast<int64_t>(tail_rows * width * 2 + overlap_kv.size() + overlap_gate.size());
  return 4 * floats + entries.bytes();
}

namespace {

CompressorState make_compressor(int64_t ratio, int64_t dim, int64_t rope_dim, bool overlap, KvFormat format) {
  CompressorState c;
  c.ratio = ratio;
  c.width = (overlap ? 2 : 1) * dim;
  c.tail_kv.resize(static_cast<size_t>(ratio * c.width));
  c.tail_gate.resize(static_cast<size_t>(ratio * c.width));
  c.entries = KvRows(KvCodec(format, dim, rope_dim), 0);
  return c;
}

}  // namespace

SessionState::SessionState(const Config& config, StateStorage storage) : storage_(storage) {
  const bool paper = storage == StateStorage::kPaper;
  const KvFormat entry_format = paper ? KvFormat::kFp8Rope : KvFormat::kF32;
  if (paper) {
    const int64_t di = config.index_head_dim;
    check(di <= 0 || (di & (di - 1)) == 0, "paper storage needs a power-of-two index_head_dim, got {}", di);
  }
  for (const LayerSpec& spec : config.layers) {
    LayerState l;
    l.window = KvRows(KvCodec(entry_format, config.head_dim, config.rope_head_dim), config.sliding_window);
    const AttentionKind kind = spec.attention();
    if (kind != AttentionKind::kSliding) {
      const bool csa = kind == AttentionKind::kCsa;
      l.compressor =
          make_compressor(spec.compress_ratio, config.head_dim, config.rope_head_dim, csa, entry_format);
      if (csa) {
        l.indexer = make_compressor(spec.compress_ratio, config.index_head_dim, config.rope_head_dim, true,
                                    paper ? KvFormat::kFp4 : KvFormat::kF32);
      }
    }
    layers_.push_back(std::move(l));
  }
}

int64_t SessionState::bytes() const {
  int64_t total = 0;
  for (const LayerState& l : layers_) total += l.window.bytes() + l.compressor.bytes() + l.indexer.bytes();
  return total;
}

}  // namespace baleen
