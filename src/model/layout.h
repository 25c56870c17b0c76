// The official DeepSeek-V4 checkpoint layout: every tensor a Config implies (canonical name, logical
// shape, role, the dtype the official release stores it in), and the mapping of the other names that
// checkpoints use (transformers' save_pretrained, mixed) onto the canonical ones. Pure functions.
//
// Canonical names (confirmed against the tensor list of deepseek-ai/DeepSeek-V4-Pro and the reference
// inference/model.py module tree; N = layer, E = expert, M = MTP block):
//   embed.weight [V, D]            head.weight [V, D]            norm.weight [D]
//   hc_head_fn [n, n·D]            hc_head_base [n]              hc_head_scale [1]
//   layers.N.attn_norm.weight [D]  layers.N.ffn_norm.weight [D]
//   layers.N.hc_{attn,ffn}_fn [(2+n)·n, n·D]   _base [(2+n)·n]   _scale [3]
//   layers.N.attn.wq_a.weight [Rq, D]   .q_norm.weight [Rq]   .wq_b.weight [H·d, Rq]
//   layers.N.attn.wkv.weight [d, D]     .kv_norm.weight [d]   .attn_sink [H]
//   layers.N.attn.wo_a.weight [g·dg, H·d/g]   .wo_b.weight [D, g·dg]
//   layers.N.attn.compressor.{wkv,wgate}.weight [c·d, D]  .ape [m, c·d]  .norm.weight [d]   (c = 2 for CSA, 1
//   HCA) layers.N.attn.indexer.wq_b.weight [Hi·di, Rq]   .weights_proj.weight [Hi, D]              (CSA only)
//   layers.N.attn.indexer.compressor.{wkv,wgate}.weight [2·di, D]  .ape [m, 2·di]  .norm.weight [di]
//   layers.N.ffn.gate.weight [E, D]   .gate.bias [E] (learned) | .gate.tid2eid [V, K] (hash)
//   layers.N.ffn.experts.E.{w1,w3}.weight [F, D]  .w2.weight [D, F]
//   layers.N.ffn.shared_experts.{w1,w3}.weight [F, D]  .w2.weight [D, F]
//   mtp.M.{e_proj,h_proj}.weight [D, D]  mtp.M.{enorm,hnorm,norm}.weight [D]  mtp.M.hc_head_{fn,base,scale}
//   mtp.M.<every layers.N.* name above, for a sliding-only, learned-routing block>
// Quantized weights carry `<name without .weight>.scale`: FP8 e4m3 blocks [ceil(out/bo), ceil(in/bi)]
// (F32 or F8_E8M0), FP4 e2m1 experts [out, in/32] (F8_E8M0). FP4 is stored as I8/U8 [out, in/2].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"

namespace baleen {

enum class TensorRole {
  kFloat,   // unquantized floating tensor: norms, mHC, sinks, ape, router, compressor/indexer projections
  kLinear,  // linear weight: floating, or F8_E4M3 with a block-scale companion
  kExpert,  // routed expert weight: kLinear's formats, or FP4 e2m1 (packed) with per-32 scales
  kIndex,   // integer table (tid2eid)
};

struct ExpectedTensor {
  std::string name;            // canonical
  std::vector<int64_t> shape;  // logical elements
  TensorRole role = TensorRole::kFloat;
  DType official = DType::kBF16;  // what the official release stores under this config
  bool mtp = false;               // part of an mtp.M block
};

// Every tensor the config implies, scale companions excluded, MTP blocks last.
std::vector<ExpectedTensor> expected_tensors(const Config& config);

// "x.weight" -> "x.scale" (the companion of a quantized weight).
std::string scale_name(std::string_view weight_name);

// The dtype of the scale companions the official release ships under this config.
DType official_scale_dtype(const Config& config);
// The scale shape the official release ships for `t` stored as `dtype` (empty: no scale).
std::vector<int64_t> official_scale_shape(const Config& config, const ExpectedTensor& t, DType dtype);

// The canonical name of a stored tensor name in any supported layout; names that match no rule come back
// unchanged. transformers' fused expert tensors come back as "layers.N.ffn.experts.gate_up_proj" /
// "layers.N.ffn.experts.down_proj" (the checkpoint slices them per expert).
std::string canonical_name(std::string_view stored);

}  // namespace baleen
