// The model's parameters as dequantized fp32 tensors, named as in DeepSeek's official layout (spec
// checkpoint.md). random_weights fills every parameter from a seed (tests, benchmarks); load_weights
// reads a checkpoint and throws Error listing every missing or mis-shaped tensor.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace baleen {

class Checkpoint;

struct HyperConnectionWeights {
  Tensor fn, base, scale;  // [(2+n)·n, n·D], [(2+n)·n], [3] (head: [n, n·D], [n], [1])
};

struct CompressorWeights {
  Tensor wkv, wgate, ape, norm;  // [c·w, D], [c·w, D], [m, c·w], [w]; c = 2 with the CSA overlap
};

struct IndexerWeights {
  Tensor wq_b, weights_proj;  // [Hi·di, Rq], [Hi, D]
  CompressorWeights compressor;
};

struct AttentionWeights {
  Tensor wq_a, q_norm, wq_b, wkv, kv_norm, wo_a, wo_b, sinks;
  std::optional<CompressorWeights> compressor;  // CSA and HCA layers
  std::optional<IndexerWeights> indexer;        // CSA layers
};

struct ExpertTensors {
  Tensor w1, w2, w3;  // gate [F, D], down [D, F], up [F, D]
};

struct MoeWeights {
  Tensor gate;                   // [E, D]
  Tensor bias;                   // [E] learned layers (score correction), empty for hash layers
  std::vector<int32_t> tid2eid;  // [vocab, K] hash layers, empty for learned layers
  std::vector<ExpertTensors> experts;
  ExpertTensors shared;
};

struct LayerWeights {
  HyperConnectionWeights hc_attn, hc_ffn;
  Tensor attn_norm, ffn_norm;
  AttentionWeights attn;
  MoeWeights ffn;
};

struct ModelWeights {
  Tensor embed;  // [vocab, D]
  std::vector<LayerWeights> layers;
  HyperConnectionWeights hc_head;
  Tensor norm, head;  // [D], [vocab, D]
};

// The attention type of a layer as the reference code decides it: ratio 0 sliding, 4 CSA, other HCA.
AttentionKind attention_kind(const LayerSpec& layer);

ModelWeights random_weights(const Config& config, uint64_t seed);
ModelWeights load_weights(const Checkpoint& checkpoint);

}  // namespace baleen
