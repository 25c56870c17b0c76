#include "model/layout.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "model/parameters.h"

namespace baleen {
namespace {

Config config(const std::string& name) {
  return load_config(std::string(BALEEN_SOURCE_DIR) + "/tests/data/configs/" + name);
}

// The published inventories of the real checkpoints (model.safetensors.index.json of
// deepseek-ai/DeepSeek-V4-Flash: 69,187 tensors, 159,609,485,896 bytes, 290,942,289,362 logical
// parameters of which 14,118,225,362 active; DeepSeek-V4-Pro: 145,116 tensors, 864,704,792,696 bytes,
// 1,598,837,347,742 parameters, 50,648,438,174 active) pin the layout.
TEST(Layout, FlashInventoryMatchesTheReleasedCheckpoint) {
  const ParameterCount p = count_parameters(config("deepseek-v4-flash.json"));
  EXPECT_EQ(p.tensors, 69187);
  uint64_t bytes = 0;
  for (const auto& [dtype, n] : p.bytes) bytes += n;
  EXPECT_EQ(bytes, 159609485896u);
  EXPECT_EQ(p.total, 290942289362);
  EXPECT_EQ(p.active, 14118225362);
  EXPECT_EQ(p.tensor_count.at(DType::kF8E4M3), 375);
  EXPECT_EQ(p.tensor_count.at(DType::kUE8M0), 34167);
  EXPECT_EQ(p.tensor_count.at(DType::kBF16), 433);
  EXPECT_EQ(p.tensor_count.at(DType::kF32), 417);
  EXPECT_EQ(p.tensor_count.at(DType::kI64), 3);
  EXPECT_EQ(p.tensor_count.at(DType::kF4E2M1x2), 33792);
}

TEST(Layout, ProInventoryMatchesTheReleasedCheckpoint) {
  const ParameterCount p = count_parameters(config("deepseek-v4-pro.json"));
  EXPECT_EQ(p.tensors, 145116);
  uint64_t bytes = 0;
  for (const auto& [dtype, n] : p.bytes) bytes += n;
  EXPECT_EQ(bytes, 864704792696u);  // the index's metadata.total_size
  EXPECT_EQ(p.total, 1598837347742);
  EXPECT_EQ(p.active, 50648438174);
}

TEST(Layout, NamesAreUnique) {
  std::set<std::string> names;
  for (const auto& t : expected_tensors(config("deepseek-v4-flash.json"))) {
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
  }
}

TEST(Layout, TransformersNamesMapToOfficialNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"model.embed_tokens.weight", "embed.weight"},
      {"lm_head.weight", "head.weight"},
      {"model.norm.weight", "norm.weight"},
      {"model.hc_head.hc_fn", "hc_head_fn"},
      {"model.hc_head.hc_scale", "hc_head_scale"},
      {"model.layers.3.input_layernorm.weight", "layers.3.attn_norm.weight"},
      {"model.layers.3.post_attention_layernorm.weight", "layers.3.ffn_norm.weight"},
      {"model.layers.3.attn_hc.fn", "layers.3.hc_attn_fn"},
      {"model.layers.3.ffn_hc.base", "layers.3.hc_ffn_base"},
      {"model.layers.3.self_attn.q_a_proj.weight", "layers.3.attn.wq_a.weight"},
      {"model.layers.3.self_attn.q_a_norm.weight", "layers.3.attn.q_norm.weight"},
      {"model.layers.3.self_attn.q_b_proj.weight_scale_inv", "layers.3.attn.wq_b.scale"},
      {"model.layers.3.self_attn.kv_proj.weight", "layers.3.attn.wkv.weight"},
      {"model.layers.3.self_attn.kv_norm.weight", "layers.3.attn.kv_norm.weight"},
      {"model.layers.3.self_attn.o_a_proj.weight", "layers.3.attn.wo_a.weight"},
      {"model.layers.3.self_attn.o_b_proj.weight", "layers.3.attn.wo_b.weight"},
      {"model.layers.3.self_attn.sinks", "layers.3.attn.attn_sink"},
      {"model.layers.3.self_attn.compressor.kv_proj.weight", "layers.3.attn.compressor.wkv.weight"},
      {"model.layers.3.self_attn.compressor.gate_proj.weight", "layers.3.attn.compressor.wgate.weight"},
      {"model.layers.3.self_attn.compressor.position_bias", "layers.3.attn.compressor.ape"},
      {"model.layers.3.self_attn.compressor.kv_norm.weight", "layers.3.attn.compressor.norm.weight"},
      {"model.layers.2.self_attn.compressor.indexer.kv_proj.weight",
       "layers.2.attn.indexer.compressor.wkv.weight"},
      {"model.layers.2.self_attn.compressor.indexer.gate_proj.weight",
       "layers.2.attn.indexer.compressor.wgate.weight"},
      {"model.layers.2.self_attn.compressor.indexer.position_bias", "layers.2.attn.indexer.compressor.ape"},
      {"model.layers.2.self_attn.compressor.indexer.kv_norm.weight",
       "layers.2.attn.indexer.compressor.norm.weight"},
      {"model.layers.2.self_attn.compressor.indexer.q_b_proj.weight", "layers.2.attn.indexer.wq_b.weight"},
      {"model.layers.2.self_attn.compressor.indexer.scorer.weights_proj.weight",
       "layers.2.attn.indexer.weights_proj.weight"},
      {"model.layers.0.mlp.gate.weight", "layers.0.ffn.gate.weight"},
      {"model.layers.0.mlp.gate.tid2eid", "layers.0.ffn.gate.tid2eid"},
      {"model.layers.5.mlp.gate.e_score_correction_bias", "layers.5.ffn.gate.bias"},
      {"model.layers.5.mlp.shared_experts.gate_proj.weight", "layers.5.ffn.shared_experts.w1.weight"},
      {"model.layers.5.mlp.shared_experts.up_proj.weight", "layers.5.ffn.shared_experts.w3.weight"},
      {"model.layers.5.mlp.shared_experts.down_proj.weight", "layers.5.ffn.shared_experts.w2.weight"},
      {"model.layers.5.mlp.experts.17.w1.weight", "layers.5.ffn.experts.17.w1.weight"},
      {"model.layers.5.mlp.experts.17.down_proj.weight", "layers.5.ffn.experts.17.w2.weight"},
      {"model.layers.5.mlp.experts.gate_up_proj", "layers.5.ffn.experts.gate_up_proj"},
      {"model.layers.5.attn.wq_a.weight", "layers.5.attn.wq_a.weight"},
      {"model.layers.5.attn.norm.weight", "layers.5.attn.kv_norm.weight"},
      {"model.layers.5.attn.compressor.norm.weight", "layers.5.attn.compressor.norm.weight"},
      {"layers.5.ffn.experts.3.w2.scale", "layers.5.ffn.experts.3.w2.scale"},
      {"mtp.0.hc_head_fn", "mtp.0.hc_head_fn"},
      {"mtp.0.attn.kv_norm.weight", "mtp.0.attn.kv_norm.weight"},
  };
  for (const auto& [stored, canonical] : cases) EXPECT_EQ(canonical_name(stored), canonical) << stored;
}

}  // namespace
}  // namespace baleen
