// Grow-only scratch buffers of one model in its backend's memory, named by use, so the forward pass
// allocates only when a step is larger than any before it. The engine passes views of them to backend
// ops and never touches their elements. Not thread-safe (one forward at a time per model).
#pragma once

#include <array>
#include <cstdint>

#include "backend/backend.h"
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
  kHeadIn,
  kLogits,  // model
  kQr,
  kQ,
  kKv,
  kAttnOut,
  kGrouped,  // attention
  kProjKv,
  kProjGate,  // compressor
  kIndexQ,
  kIndexWeights,  // indexer
  kRouterLogits,
  kRouteWeights,  // moe
  kCount
};
enum class IntBuf { kPicks, kRoutes, kCount };

class Workspace {
 public:
  explicit Workspace(Backend& backend) : backend_(backend) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    for (Slot& s : f_) backend_.release(s.data);
    for (Slot& s : i_) backend_.release(s.data);
  }

  MatrixView<float> matrix(Buf b, int64_t rows, int64_t cols) {
    return {static_cast<float*>(grow(f_[static_cast<size_t>(b)], rows * cols * 4)), rows, cols};
  }
  MatrixView<int32_t> indices(IntBuf b, int64_t rows, int64_t cols) {
    return {static_cast<int32_t*>(grow(i_[static_cast<size_t>(b)], rows * cols * 4)), rows, cols};
  }
  // The two stream buffers trade places after each mHC site (the output becomes the next input).
  void swap_streams() { std::swap(f_[static_cast<size_t>(Buf::kStreams)], f_[static_cast<size_t>(Buf::kStreamsNext)]); }

 private:
  struct Slot {
    void* data = nullptr;
    int64_t bytes = 0;
  };
  void* grow(Slot& s, int64_t bytes) {
    if (s.bytes < bytes) {
      backend_.release(s.data);
      s.data = nullptr;  // stays consistent if allocate throws
      s.bytes = 0;
      s.data = backend_.allocate(bytes);
      s.bytes = bytes;
    }
    return s.data;
  }

  Backend& backend_;
  std::array<Slot, static_cast<size_t>(Buf::kCount)> f_{};
  std::array<Slot, static_cast<size_t>(IntBuf::kCount)> i_{};
};

}  // namespace baleen
