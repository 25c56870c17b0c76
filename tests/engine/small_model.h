// A small in-memory V4 config that exercises every path: sliding, CSA (m=4) and HCA (m=8) layers,
// hash and learned MoE, YaRN, a window and an index_topk smaller than a 50-token sequence.
#pragma once

#include <random>
#include <vector>

#include "model/config.h"

namespace baleen::test {

inline Config small_config() {
  Config c;
  c.model_type = "deepseek_v4";
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.num_heads = 4;
  c.head_dim = 32;
  c.rope_head_dim = 8;
  c.q_lora_rank = 48;
  c.o_groups = 2;
  c.o_lora_rank = 24;
  c.sliding_window = 8;
  c.index_n_heads = 4;
  c.index_head_dim = 16;
  c.index_topk = 3;
  c.n_routed_experts = 6;
  c.n_activated_experts = 2;
  c.n_shared_experts = 1;
  c.moe_inter_dim = 40;
  c.routed_scaling_factor = 1.5;
  c.swiglu_limit = 2.5;
  c.hc_mult = 4;
  c.hc_sinkhorn_iters = 20;
  c.hc_eps = 1e-6;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000;
  c.compress_rope_theta = 160000;
  c.yarn = {true, 4.0, 64, 32.0, 1.0};
  c.layers = {
      {0, MoeRouting::kHash}, {4, MoeRouting::kLearned}, {8, MoeRouting::kLearned}, {4, MoeRouting::kHash}};
  c.num_layers = static_cast<int64_t>(c.layers.size());
  return c;
}

inline std::vector<int32_t> random_ids(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& v : ids) v = dist(rng);
  return ids;
}

}  // namespace baleen::test
