// Grow-only scratch buffers of one model, named by use, so the forward pass allocates only when a chunk
// is larger than any before it. Not thread-safe (one forward at a time per model).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace baleen {

enum class Buf {
  kStreams,
  kStreamsNext,
  kX,
  kPost,
  kComb,
  kH,
  kSublayerOut,
  kHeadRows,  // model
  kQr,
  kQ,
  kKv,
  kWindow,
  kCompressed,
  kAttnOut,
  kGrouped,  // attention
  kProjKv,
  kProjGate,
  kSlotKv,
  kSlotGate,
  kEntries,  // compressor
  kIndexQ,
  kIndexWeights,
  kIndexKeys,
  kIndexScores,  // indexer
  kRouterLogits,
  kRouteWeights,
  kSharedWeights,  // moe
  kCount
};
enum class IntBuf { kPicks, kRoutes, kSharedRoutes, kCount };

class Workspace {
 public:
  MatrixView<float> matrix(Buf b, int64_t rows, int64_t cols) {
    return {grow(f_[static_cast<size_t>(b)], rows * cols), rows, cols};
  }
  MatrixView<int32_t> indices(IntBuf b, int64_t rows, int64_t cols) {
    return {grow(i_[static_cast<size_t>(b)], rows * cols), rows, cols};
  }
  std::vector<int64_t>& entry_positions() { return entry_positions_; }

 private:
  template <typename T>
  static T* grow(std::vector<T>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
  std::array<std::vector<float>, static_cast<size_t>(Buf::kCount)> f_;
  std::array<std::vector<int32_t>, static_cast<size_t>(IntBuf::kCount)> i_;
  std::vector<int64_t> entry_positions_;
};

}  // namespace baleen
