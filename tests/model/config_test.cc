#include "model/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace baleen {
namespace {

using nlohmann::json;

std::string config_path(const std::string& name) {
  return std::string(BALEEN_SOURCE_DIR) + "/tests/data/configs/" + name;
}

json read(const std::string& name) {
  std::ifstream in(config_path(name));
  return json::parse(in);
}

// The error message of parsing `j`, or "" when it parses.
std::string parse_error(const json& j) {
  try {
    parse_config(j, "test.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<double> sizes_of(const Config& c) {
  return {double(c.vocab_size),
          double(c.hidden_size),
          double(c.num_layers),
          double(c.num_heads),
          double(c.head_dim),
          double(c.rope_head_dim),
          double(c.q_lora_rank),
          double(c.o_groups),
          double(c.o_lora_rank),
          double(c.sliding_window),
          double(c.index_n_heads),
          double(c.index_head_dim),
          double(c.index_topk),
          double(c.n_routed_experts),
          double(c.n_activated_experts),
          double(c.moe_inter_dim),
          c.routed_scaling_factor,
          c.swiglu_limit,
          double(c.hc_mult),
          double(c.hc_sinkhorn_iters),
          c.hc_eps,
          c.rms_norm_eps,
          c.rope_theta,
          c.compress_rope_theta,
          double(c.num_nextn_predict_layers)};
}

void expect_flash(const Config& c) {
  EXPECT_EQ(c.vocab_size, 129280);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_layers, 43);
  EXPECT_EQ(c.num_heads, 64);
  EXPECT_EQ(c.head_dim, 512);
  EXPECT_EQ(c.rope_head_dim, 64);
  EXPECT_EQ(c.q_lora_rank, 1024);
  EXPECT_EQ(c.o_groups, 8);
  EXPECT_EQ(c.o_lora_rank, 1024);
  EXPECT_EQ(c.sliding_window, 128);
  EXPECT_EQ(c.index_n_heads, 64);
  EXPECT_EQ(c.index_head_dim, 128);
  EXPECT_EQ(c.index_topk, 512);
  EXPECT_EQ(c.n_routed_experts, 256);
  EXPECT_EQ(c.n_activated_experts, 6);
  EXPECT_EQ(c.moe_inter_dim, 2048);
  EXPECT_EQ(c.scoring_func, "sqrtsoftplus");
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  EXPECT_DOUBLE_EQ(c.swiglu_limit, 10.0);
  EXPECT_EQ(c.hc_mult, 4);
  EXPECT_EQ(c.hc_sinkhorn_iters, 20);
  EXPECT_DOUBLE_EQ(c.hc_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.compress_rope_theta, 160000.0);
  EXPECT_TRUE(c.yarn.enabled);
  EXPECT_DOUBLE_EQ(c.yarn.factor, 16.0);
  EXPECT_EQ(c.yarn.original_max_position, 65536);
  EXPECT_DOUBLE_EQ(c.yarn.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c.yarn.beta_slow, 1.0);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  ASSERT_EQ(c.layers.size(), 43u);
  EXPECT_EQ(c.layers[0].attention(), AttentionKind::kSliding);
  EXPECT_EQ(c.layers[1].attention(), AttentionKind::kSliding);
  EXPECT_EQ(c.layers[2].attention(), AttentionKind::kCsa);
  EXPECT_EQ(c.layers[3].attention(), AttentionKind::kHca);
  EXPECT_EQ(c.layers[3].compress_ratio, 128);
  EXPECT_EQ(c.layers[42].attention(), AttentionKind::kCsa);
  for (size_t i = 0; i < 43; ++i) {
    EXPECT_EQ(c.layers[i].routing, i < 3 ? MoeRouting::kHash : MoeRouting::kLearned) << "layer " << i;
  }
  ASSERT_EQ(c.mtp_layers.size(), 1u);
  EXPECT_EQ(c.mtp_layers[0].attention(), AttentionKind::kSliding);
  EXPECT_TRUE(c.quant.fp8_linears);
  EXPECT_TRUE(c.quant.fp4_experts);
  EXPECT_TRUE(c.quant.ue8m0_scales);
  EXPECT_EQ(c.quant.block_out, 128);
  EXPECT_EQ(c.quant.block_in, 128);
  EXPECT_EQ(c.resume_granularity(), 128);
  EXPECT_EQ(c.compress_ratios(), (std::vector<int64_t>{4, 128}));
}

TEST(Config, ParsesOfficialSpelling) {
  const Config c = load_config(config_path("deepseek-v4-flash.json"));
  EXPECT_EQ(c.spelling, ConfigSpelling::kOfficial);
  expect_flash(c);
}

TEST(Config, ParsesReferenceModelArgsSpelling) {
  const Config c = load_config(config_path("deepseek-v4-flash-inference.json"));
  EXPECT_EQ(c.spelling, ConfigSpelling::kReference);
  expect_flash(c);
}

TEST(Config, ParsesTransformersSpelling) {
  const Config c = load_config(config_path("deepseek-v4-flash-transformers.json"));
  EXPECT_EQ(c.spelling, ConfigSpelling::kTransformers);
  // transformers drops quantization from configs it saves; everything else is the same model.
  Config q = c;
  q.quant = load_config(config_path("deepseek-v4-flash.json")).quant;
  expect_flash(q);
  EXPECT_FALSE(c.quant.fp8_linears);
}

TEST(Config, ParsesProSchedule) {
  const Config c = load_config(config_path("deepseek-v4-pro.json"));
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_layers, 61);
  EXPECT_EQ(c.num_heads, 128);
  EXPECT_EQ(c.o_groups, 16);
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.n_routed_experts, 384);
  EXPECT_EQ(c.index_topk, 1024);
  EXPECT_EQ(c.layers[0].attention(), AttentionKind::kHca);
  EXPECT_EQ(c.layers[1].attention(), AttentionKind::kHca);
  EXPECT_EQ(c.layers[2].attention(), AttentionKind::kCsa);
  EXPECT_EQ(c.layers[60].attention(), AttentionKind::kCsa);
}

TEST(Config, MissingFieldNamesFieldAndFile) {
  for (const char* field : {"hidden_size", "num_hidden_layers", "q_lora_rank", "compress_ratios",
                            "index_topk", "num_hash_layers", "routed_scaling_factor"}) {
    json j = read("deepseek-v4-flash.json");
    j.erase(field);
    const std::string error = parse_error(j);
    EXPECT_NE(error.find(field), std::string::npos) << field << ": " << error;
    EXPECT_NE(error.find("test.json"), std::string::npos) << error;
  }
  json ref = read("deepseek-v4-flash-inference.json");
  ref.erase("dim");
  EXPECT_NE(parse_error(ref).find("'dim'"), std::string::npos) << parse_error(ref);
}

TEST(Config, InconsistentFieldsAreErrors) {
  json j = read("deepseek-v4-flash.json");
  j["dim"] = 1024;  // disagrees with hidden_size
  EXPECT_NE(parse_error(j).find("inconsistent"), std::string::npos) << parse_error(j);
  j = read("deepseek-v4-flash.json");
  j["compress_ratios"].erase(j["compress_ratios"].begin());
  j["compress_ratios"].erase(j["compress_ratios"].begin());
  EXPECT_NE(parse_error(j).find("compress_ratios"), std::string::npos) << parse_error(j);
  j = read("deepseek-v4-flash.json");
  j["o_groups"] = 7;
  EXPECT_NE(parse_error(j).find("o_groups"), std::string::npos) << parse_error(j);
  j = read("deepseek-v4-flash.json");
  j["hidden_size"] = "4096";
  EXPECT_NE(parse_error(j).find("must be an integer"), std::string::npos) << parse_error(j);
}

TEST(Config, UnsupportedArchitecturesAreRefusedByName) {
  json j = read("deepseek-v4-flash.json");
  j["model_type"] = "deepseek_v41";
  EXPECT_NE(parse_error(j).find("unsupported architecture"), std::string::npos) << parse_error(j);
  j = read("deepseek-v4-flash.json");
  j["architectures"] = {"DeepseekV3ForCausalLM"};
  EXPECT_NE(parse_error(j).find("unsupported architecture"), std::string::npos) << parse_error(j);
  for (const char* key : {"kv_source_layer_ids", "engram_layer_ids", "index_source_layer_ids"}) {
    j = read("deepseek-v4-flash.json");
    j[key] = {1};
    const std::string error = parse_error(j);
    EXPECT_NE(error.find("unsupported architecture"), std::string::npos) << error;
    EXPECT_NE(error.find(key), std::string::npos) << error;
  }
}

TEST(Config, DsparkConfigKeepsBackboneAndSkipsMtp) {
  json j = read("deepseek-v4-flash.json");
  j["compress_ratios"].push_back(0);
  j["compress_ratios"].push_back(0);  // 46 entries, as Flash-0731 ships
  j["dspark_block_size"] = 5;
  const Config c = parse_config(j, "test.json");
  EXPECT_TRUE(c.dspark);
  EXPECT_EQ(c.layers.size(), 43u);
  j.erase("dspark_block_size");
  EXPECT_NE(parse_error(j).find("compress_ratios has 46 entries"), std::string::npos) << parse_error(j);
}

TEST(Config, ReferenceSpellingWithoutYarnDisablesIt) {
  json j = read("deepseek-v4-flash-inference.json");
  j["original_seq_len"] = 0;
  EXPECT_FALSE(parse_config(j, "test.json").yarn.enabled);
  j = read("deepseek-v4-flash.json");
  j.erase("rope_scaling");
  EXPECT_FALSE(parse_config(j, "test.json").yarn.enabled);
}

TEST(Config, TransformersRejectsRatesTheReferenceCannotExpress) {
  json j = read("deepseek-v4-flash-transformers.json");
  j["compress_rates"]["compressed_sparse_attention"] = 8;
  EXPECT_NE(parse_error(j).find("compressed_sparse_attention"), std::string::npos) << parse_error(j);
  j = read("deepseek-v4-flash-transformers.json");
  j["compress_rates"]["heavily_compressed_attention"] = 16;
  const Config c = parse_config(j, "test.json");
  EXPECT_EQ(c.layers[3].compress_ratio, 16);
  EXPECT_EQ(c.layers[3].attention(), AttentionKind::kHca);
  EXPECT_EQ(c.resume_granularity(), 16);
}

TEST(Config, MalformedFileIsAClearError) {
  try {
    load_config(config_path("does-not-exist.json"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does-not-exist.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace baleen

namespace baleen {
namespace {

// The official fixtures ship config.json and the reference's inference/config.json for the same model.
TEST(Config, FixtureConfigsAgreeAcrossSpellings) {
  const std::filesystem::path root = std::filesystem::path(BALEEN_SOURCE_DIR) / "tests" / "fixtures";
  int compared = 0;
  if (std::filesystem::is_directory(root)) {
    for (const auto& dir : std::filesystem::directory_iterator(root)) {
      const auto inference = dir.path() / "inference" / "config.json";
      if (!std::filesystem::exists(inference)) continue;
      SCOPED_TRACE(dir.path().string());
      const Config a = load_config(dir.path()), b = load_config(inference);
      EXPECT_EQ(b.spelling, ConfigSpelling::kReference);
      EXPECT_EQ(sizes_of(a), sizes_of(b));
      ASSERT_EQ(a.layers.size(), b.layers.size());
      for (size_t i = 0; i < a.layers.size(); ++i) {
        EXPECT_EQ(a.layers[i].compress_ratio, b.layers[i].compress_ratio) << i;
        EXPECT_EQ(a.layers[i].routing, b.layers[i].routing) << i;
      }
      EXPECT_EQ(a.yarn.enabled, b.yarn.enabled);
      EXPECT_DOUBLE_EQ(a.yarn.factor, b.yarn.factor);
      EXPECT_EQ(a.yarn.original_max_position, b.yarn.original_max_position);
      EXPECT_EQ(a.quant.fp8_linears, b.quant.fp8_linears);
      EXPECT_EQ(a.quant.fp4_experts, b.quant.fp4_experts);
      ++compared;
    }
  }
  if (compared == 0) GTEST_SKIP() << "no fixtures with inference/config.json";
}

}  // namespace
}  // namespace baleen
