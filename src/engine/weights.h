// The model's parameters, named as in DeepSeek's official layout (spec checkpoint.md), in two forms:
// ModelWeights, fp32 host tensors (random_weights fills every one from a seed, for tests and benchmarks),
// and BackendWeights, the views of what a backend holds, as the forward pass reads them. load_weights
// puts a checkpoint's linear weights on a backend in their stored dtype (FP8 / FP4 with block scales,
// BF16; views of the mapped file where the backend can read host memory), or dequantized to fp32 (the
// exact mode), and every small parameter (norms, sinks, mHC, ape, router bias) as fp32.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "backend/backend.h"
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

ModelWeights random_weights(const Config& config, uint64_t seed);

// Views of the weights a backend holds (the backend owns the memory).
struct BackendWeights {
  struct HyperConnection {
    const float *fn = nullptr, *base = nullptr, *scale = nullptr;
  };
  struct Compressor {
    WeightView wkv, wgate;
    const float *ape = nullptr, *norm = nullptr;
  };
  struct Indexer {
    WeightView wq_b, weights_proj;
    Compressor compressor;
  };
  struct Attention {
    WeightView wq_a, wq_b, wkv, wo_a, wo_b;
    const float *q_norm = nullptr, *kv_norm = nullptr, *sinks = nullptr;
    std::optional<Compressor> compressor;
    std::optional<Indexer> indexer;
  };
  struct Moe {
    WeightView gate;
    const float* bias = nullptr;       // learned layers
    const int32_t* tid2eid = nullptr;  // hash layers
    std::vector<ExpertWeights> experts;
    ExpertWeights shared;
  };
  struct Layer {
    HyperConnection hc_attn, hc_ffn;
    const float *attn_norm = nullptr, *ffn_norm = nullptr;
    Attention attn;
    Moe ffn;
  };
  // A head whose rows are mostly exact zeros, multiplied through its other rows only (baleen-nano keeps
  // 2,230 of 129,280): the packed rows and their indices.
  struct KeptRows {
    WeightView packed;
    const int32_t* rows = nullptr;
  };

  WeightView embed;
  std::vector<Layer> layers;
  HyperConnection hc_head;
  const float* norm = nullptr;
  WeightView head;
  std::optional<KeptRows> head_rows;

  // Bytes of the linear weights as the backend holds them (elements + scales).
  int64_t linear_bytes() const;
};

// Throws Error naming the tensor when a host weight is mis-shaped for the config.
BackendWeights upload_weights(const Config& config, const ModelWeights& host, Backend& backend);

enum class WeightFormat { kStored, kFp32 };
// Throws Error listing every missing tensor, or naming one the backend cannot multiply.
BackendWeights load_weights(const Checkpoint& checkpoint, Backend& backend, WeightFormat format);

}  // namespace baleen
