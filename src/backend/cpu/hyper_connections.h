// mHC kernels (spec "Residual streams (mHC)"): the per-token pre/post/comb weights with Sinkhorn, the
// collapse before a sublayer, the expansion after it, and the final head collapse. Fast kernels over a
// token range and float64 scalar truths. No allocation.
#pragma once

#include "backend/backend.h"

namespace baleen::cpu {

// The largest n the kernels handle (V4 uses 4).
inline constexpr int64_t kMaxStreams = 8;

void hc_pre_rows(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                 MatrixView<float> post, MatrixView<float> comb, int64_t begin, int64_t end);
void hc_pre_reference(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                      MatrixView<float> post, MatrixView<float> comb);

void hc_post_rows(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                  MatrixView<const float> streams, MatrixView<float> out, int64_t begin, int64_t end);
void hc_post_reference(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                       MatrixView<const float> streams, MatrixView<float> out);

void hc_head_rows(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y,
                  int64_t begin, int64_t end);
void hc_head_reference(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y);

}  // namespace baleen::cpu
