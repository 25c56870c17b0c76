// The model's hyper-parameters, read from config.json in any of its three spellings (DeepSeek's
// repository config, the reference code's ModelArgs config, transformers' config). Every size the
// engine uses comes from here. load_config throws Error naming the file and field on a missing or
// inconsistent value, and on an architecture baleen does not support.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace baleen {

enum class AttentionKind { kSliding, kCsa, kHca };  // spec/model.md "Layer schedule"
enum class MoeRouting { kHash, kLearned };

struct LayerSpec {
  int64_t compress_ratio = 0;  // 0 sliding-only, 4 CSA, otherwise HCA (128 in V4)
  MoeRouting routing = MoeRouting::kLearned;

  AttentionKind attention() const;
};

// "sliding", "csa", "hca" — the words inspect and error messages use.
const char* attention_name(AttentionKind kind);

// YaRN frequency scaling, applied on compressed layers only, without the mscale factor.
struct YarnScaling {
  bool enabled = false;
  double factor = 1.0;
  int64_t original_max_position = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
};

struct Quantization {
  bool fp8_linears = false;   // quantization_config.quant_method == fp8
  int64_t block_out = 128;    // weight_block_size[0]
  int64_t block_in = 128;     // weight_block_size[1]
  bool ue8m0_scales = false;  // scale_fmt == ue8m0
  bool fp4_experts = false;   // expert_dtype == fp4
  int64_t fp4_block = 32;     // inputs per FP4 scale
};

// Which of the three config.json spellings a Config was read from.
enum class ConfigSpelling { kOfficial, kReference, kTransformers };

struct Config {
  std::string source;  // the file it was read from (error messages, inspect)
  ConfigSpelling spelling = ConfigSpelling::kOfficial;
  std::string model_type;  // "deepseek_v4"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;  // D
  int64_t num_layers = 0;
  int64_t num_heads = 0;            // H
  int64_t head_dim = 0;             // d (K = V, one KV head)
  int64_t rope_head_dim = 0;        // r, the trailing r dims of d
  int64_t q_lora_rank = 0;          // Rq
  int64_t o_groups = 0;             // g
  int64_t o_lora_rank = 0;          // dg
  int64_t sliding_window = 0;       // W
  int64_t index_n_heads = 0;        // Hi
  int64_t index_head_dim = 0;       // di
  int64_t index_topk = 0;           // k
  int64_t n_routed_experts = 0;     // E
  int64_t n_activated_experts = 0;  // K
  int64_t n_shared_experts = 0;
  int64_t moe_inter_dim = 0;                  // F
  std::string scoring_func = "sqrtsoftplus";  // sqrtsoftplus | sigmoid | softmax
  double routed_scaling_factor = 1.0;
  double swiglu_limit = 0.0;  // 0 disables the clamp
  int64_t hc_mult = 0;        // n streams
  int64_t hc_sinkhorn_iters = 0;
  double hc_eps = 0.0;
  double rms_norm_eps = 0.0;
  double rope_theta = 0.0;           // sliding-only layers
  double compress_rope_theta = 0.0;  // CSA / HCA layers, their compressors and indexer
  YarnScaling yarn;
  int64_t max_position_embeddings = 0;  // 0 when the config does not say
  int64_t num_nextn_predict_layers = 0;
  Quantization quant;
  std::vector<LayerSpec> layers;  // num_layers entries
  // One entry per MTP block (num_nextn_predict_layers): the trailing compress_ratios entries when
  // the config lists them, else sliding-only; learned routing.
  std::vector<LayerSpec> mtp_layers;
  bool dspark = false;  // a DSpark draft module replaces the V4 MTP block (mtp.* skipped)

  // The distinct compression ratios > 0 in the schedule, and their least common multiple
  // (1 when there are none): the granularity at which a session state can be resumed.
  std::vector<int64_t> compress_ratios() const;
  int64_t resume_granularity() const;
};

// Parses config.json text; `origin` names the file in error messages.
Config parse_config(const nlohmann::json& json, const std::string& origin);
// Reads DIR/config.json (or the file itself when `path` is a file).
Config load_config(const std::filesystem::path& path);

}  // namespace baleen
