// The engine's half of the lightning indexer (spec "Lightning indexer"): appends the layer's input to the
// indexer's compressor, forms the queries and head weights, and asks the backend for each query's top-k
// entries among those its session holds.
#pragma once

#include "engine/layer_context.h"
#include "engine/weights.h"

namespace baleen {

// h: normalized input [T, D]; q_res: the attention's query low-rank state [T, Rq]. Returns picks [T, k].
MatrixView<const int32_t> indexer_top_k(const LayerContext& ctx, const BackendWeights::Indexer& w,
                                        MatrixView<const float> h, MatrixView<const float> q_res);

}  // namespace baleen
