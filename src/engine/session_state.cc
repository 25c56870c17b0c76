#include "engine/session_state.h"

#include <utility>

#include "core/error.h"

namespace baleen {

StateSpec state_spec(const Config& config, StateStorage storage) {
  const bool paper = storage == StateStorage::kPaper;
  const KvFormat entry_format = paper ? KvFormat::kFp8Rope : KvFormat::kF32;
  if (paper) {
    const int64_t di = config.index_head_dim;
    check(di <= 0 || (di & (di - 1)) == 0, "paper storage needs a power-of-two index_head_dim, got {}", di);
  }
  StateSpec spec;
  spec.window = config.sliding_window;
  for (const LayerSpec& layer : config.layers) {
    LayerStateSpec l;
    l.window = KvCodec(entry_format, config.head_dim, config.rope_head_dim);
    const AttentionKind kind = layer.attention();
    if (kind != AttentionKind::kSliding) {
      const bool csa = kind == AttentionKind::kCsa;
      l.compressor = {layer.compress_ratio, config.head_dim, csa, l.window};
      if (csa) {
        l.indexer = {layer.compress_ratio, config.index_head_dim, true,
                     KvCodec(paper ? KvFormat::kFp4 : KvFormat::kF32, config.index_head_dim, 0)};
      }
    }
    spec.layers.push_back(l);
  }
  return spec;
}

SessionState::SessionState(Backend& backend, const Config& config, StateStorage storage)
    : backend_(&backend), id_(backend.create_state(state_spec(config, storage))), storage_(storage) {}

SessionState::SessionState(Backend& backend, StateId id, StateStorage storage, int64_t length)
    : backend_(&backend), id_(id), storage_(storage), length_(length) {}

SessionState::SessionState(SessionState&& other) noexcept
    : backend_(other.backend_), id_(std::exchange(other.id_, -1)), storage_(other.storage_),
      length_(other.length_) {}

SessionState& SessionState::operator=(SessionState&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) backend_->free_state(id_);
    backend_ = other.backend_;
    id_ = std::exchange(other.id_, -1);
    storage_ = other.storage_;
    length_ = other.length_;
  }
  return *this;
}

SessionState::~SessionState() {
  if (id_ >= 0) backend_->free_state(id_);
}

SessionState SessionState::fork() const {
  return SessionState(*backend_, backend_->fork_state(id_), storage_, length_);
}

}  // namespace baleen
