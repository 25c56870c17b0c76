#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "core/log.h"

// Key spellings, with their sources (recorded as the brief asks):
// - official: the root config.json of deepseek-ai/DeepSeek-V4-Flash and -Pro (hidden_size-style names +
//   compress_ratios, num_hash_layers, qk_rope_head_dim, rope_scaling{type: yarn}, quantization_config,
//   expert_dtype), as mirrored in public ports.
// - reference: inference/config.json, read by the reference inference/model.py ModelArgs (dim, n_layers,
//   n_heads, moe_inter_dim, n_hash_layers, n_activated_experts, score_func, route_scale, window_size,
//   rope_head_dim, original_seq_len, rope_factor, norm_eps, n_mtp_layers, dtype, scale_fmt, scale_dtype,
//   expert_dtype).
// - transformers: configuration_deepseek_v4.py (layer_types, mlp_layer_types, compress_rates,
//   rope_parameters{main, compress}, partial_rotary_factor; legacy compress_ratios / num_hash_layers /
//   qk_rope_head_dim folded in).
namespace baleen {

using nlohmann::json;

AttentionKind LayerSpec::attention() const {
  // The reference derives everything from the ratio: overlap and indexer exist iff ratio == 4.
  if (compress_ratio == 0) return AttentionKind::kSliding;
  return compress_ratio == 4 ? AttentionKind::kCsa : AttentionKind::kHca;
}

const char* attention_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::kSliding:
      return "sliding";
    case AttentionKind::kCsa:
      return "csa";
    case AttentionKind::kHca:
      return "hca";
  }
  return "?";
}

std::vector<int64_t> Config::compress_ratios() const {
  std::vector<int64_t> ratios;
  for (const auto& layer : layers) {
    if (layer.compress_ratio > 0 &&
        std::find(ratios.begin(), ratios.end(), layer.compress_ratio) == ratios.end()) {
      ratios.push_back(layer.compress_ratio);
    }
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios;
}

int64_t Config::resume_granularity() const {
  int64_t lcm = 1;
  for (int64_t r : compress_ratios()) lcm = std::lcm(lcm, r);
  return lcm;
}

namespace {

// The config document with the file name every error names. A field may have several spellings;
// `find` returns the first present one and fails when two present spellings disagree.
class Fields {
 public:
  Fields(const json& root, std::string origin) : root_(root), origin_(std::move(origin)) {}

  const std::string& origin() const { return origin_; }
  const json& root() const { return root_; }

  const json* find(std::initializer_list<const char*> keys, const char** found = nullptr) const {
    const json* value = nullptr;
    const char* first = nullptr;
    for (const char* key : keys) {
      auto it = root_.find(key);
      if (it == root_.end() || it->is_null()) continue;
      if (value == nullptr) {
        value = &*it;
        first = key;
      } else if (*value != *it) {
        fail("{}: inconsistent fields '{}' = {} and '{}' = {}", origin_, first, value->dump(), key,
             it->dump());
      }
    }
    if (found != nullptr) *found = first;
    return value;
  }

  [[noreturn]] void missing(std::initializer_list<const char*> keys) const {
    std::string also;
    for (auto it = keys.begin() + 1; it < keys.end(); ++it)
      also += fmt::format("{}'{}'", also.empty() ? "" : ", ", *it);
    fail("{}: missing field '{}'{}", origin_, *keys.begin(),
         also.empty() ? "" : " (also spelled " + also + ")");
  }

  int64_t integer(std::initializer_list<const char*> keys) const {
    const char* key = nullptr;
    const json* v = find(keys, &key);
    if (v == nullptr) missing(keys);
    return to_integer(*v, key);
  }
  int64_t integer_or(std::initializer_list<const char*> keys, int64_t fallback) const {
    const char* key = nullptr;
    const json* v = find(keys, &key);
    return v == nullptr ? fallback : to_integer(*v, key);
  }
  double number(std::initializer_list<const char*> keys) const {
    const char* key = nullptr;
    const json* v = find(keys, &key);
    if (v == nullptr) missing(keys);
    return to_number(*v, key);
  }
  double number_or(std::initializer_list<const char*> keys, double fallback) const {
    const char* key = nullptr;
    const json* v = find(keys, &key);
    return v == nullptr ? fallback : to_number(*v, key);
  }
  std::string string_or(std::initializer_list<const char*> keys, std::string fallback) const {
    const char* key = nullptr;
    const json* v = find(keys, &key);
    if (v == nullptr) return fallback;
    check(v->is_string(), "{}: field '{}' must be a string, got {}", origin_, key, v->dump());
    return v->get<std::string>();
  }

  int64_t to_integer(const json& v, std::string_view key) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    fail("{}: field '{}' must be an integer, got {}", origin_, key, v.dump());
  }
  double to_number(const json& v, std::string_view key) const {
    check(v.is_number(), "{}: field '{}' must be a number, got {}", origin_, key, v.dump());
    return v.get<double>();
  }

 private:
  const json& root_;
  std::string origin_;
};

// Keys that only V4.1 (cross-layer KV sharing, Engram tables, candidate blocks) or a multimodal wrapper
// carry; out of scope until an issue asks (checkpoint.md "config.json").
void reject_unsupported(const Fields& f) {
  const json& root = f.root();
  if (auto it = root.find("model_type"); it != root.end()) {
    check(it->is_string() && *it == "deepseek_v4",
          "{}: unsupported architecture: model_type {} (baleen supports deepseek_v4)", f.origin(),
          it->dump());
  }
  if (auto it = root.find("architectures"); it != root.end() && !it->is_null()) {
    bool known = false;
    if (it->is_array()) {
      for (const auto& a : *it)
        known = known || (a.is_string() && a.get<std::string>().rfind("DeepseekV4", 0) == 0);
    }
    check(known, "{}: unsupported architecture: architectures {} (baleen supports DeepseekV4ForCausalLM)",
          f.origin(), it->dump());
  }
  static constexpr std::string_view kV41Keys[] = {
      "kv_source_layer_ids",   "index_source_layer_ids", "candidate_source_layer_id",
      "candidate_topk_blocks", "candidate_block_size",   "text_config",
      "vision_config"};
  for (const auto& [key, value] : root.items()) {
    const bool v41 = key.rfind("engram_", 0) == 0 ||
                     std::find(std::begin(kV41Keys), std::end(kV41Keys), key) != std::end(kV41Keys);
    check(!v41,
          "{}: unsupported architecture: key '{}' belongs to a later DeepSeek release (V4.1 cross-layer KV "
          "sharing / Engram / multimodal), which baleen does not implement",
          f.origin(), key);
  }
  check(f.integer_or({"num_key_value_heads"}, 1) == 1,
        "{}: unsupported architecture: num_key_value_heads must be 1", f.origin());
  check(f.integer_or({"first_k_dense_replace"}, 0) == 0,
        "{}: unsupported architecture: first_k_dense_replace must be 0 (V4 has no dense layers)", f.origin());
  check(f.integer_or({"n_shared_experts"}, 1) == 1,
        "{}: unsupported architecture: n_shared_experts must be 1", f.origin());
  check(f.string_or({"hidden_act"}, "silu") == "silu",
        "{}: unsupported architecture: hidden_act must be silu", f.origin());
  if (auto it = root.find("tie_word_embeddings"); it != root.end() && it->is_boolean()) {
    check(!it->get<bool>(), "{}: unsupported: tie_word_embeddings = true (V4 has a separate head)",
          f.origin());
  }
}

ConfigSpelling detect_spelling(const json& root) {
  for (const char* key : {"layer_types", "mlp_layer_types", "compress_rates", "rope_parameters"}) {
    if (root.contains(key)) return ConfigSpelling::kTransformers;
  }
  if (root.contains("dim") || root.contains("n_layers")) return ConfigSpelling::kReference;
  return ConfigSpelling::kOfficial;
}

// The rope_parameters sub-dict for "main" / "compress" (transformers), or nullptr.
const json* rope_section(const Fields& f, const char* name) {
  const json* rp = f.find({"rope_parameters"});
  if (rp == nullptr || !rp->is_object()) return nullptr;
  auto it = rp->find(name);
  return it != rp->end() && it->is_object() ? &*it : nullptr;
}

void read_sizes(const Fields& f, Config& c) {
  c.vocab_size = f.integer({"vocab_size"});
  c.hidden_size = f.integer({"hidden_size", "dim"});
  c.num_layers = f.integer({"num_hidden_layers", "n_layers"});
  c.num_heads = f.integer({"num_attention_heads", "n_heads"});
  c.head_dim = f.integer({"head_dim"});
  c.q_lora_rank = f.integer({"q_lora_rank"});
  c.o_groups = f.integer({"o_groups"});
  c.o_lora_rank = f.integer({"o_lora_rank"});
  c.sliding_window = f.integer({"sliding_window", "window_size"});
  c.n_routed_experts = f.integer({"n_routed_experts", "num_local_experts"});
  c.n_activated_experts = f.integer({"num_experts_per_tok", "n_activated_experts"});
  c.n_shared_experts = f.integer_or({"n_shared_experts"}, 1);
  c.moe_inter_dim = f.integer({"moe_intermediate_size", "moe_inter_dim"});
  c.scoring_func = f.string_or({"scoring_func", "score_func"}, "sqrtsoftplus");
  c.routed_scaling_factor = f.number({"routed_scaling_factor", "route_scale"});
  c.swiglu_limit = f.number({"swiglu_limit"});
  c.hc_mult = f.integer({"hc_mult"});
  c.hc_sinkhorn_iters = f.integer_or({"hc_sinkhorn_iters"}, 20);
  c.hc_eps = f.number_or({"hc_eps"}, 1e-6);
  c.rms_norm_eps = f.number_or({"rms_norm_eps", "norm_eps"}, 1e-6);
  c.max_position_embeddings = f.integer_or({"max_position_embeddings", "max_seq_len"}, 0);
  c.num_nextn_predict_layers = f.integer_or({"num_nextn_predict_layers", "n_mtp_layers"}, 0);
  c.dspark = false;
  for (const auto& [key, value] : f.root().items()) c.dspark = c.dspark || key.rfind("dspark_", 0) == 0;
}

void read_rope_head_dim(const Fields& f, Config& c) {
  const char* key = nullptr;
  if (const json* v = f.find({"qk_rope_head_dim", "rope_head_dim"}, &key)) {
    c.rope_head_dim = f.to_integer(*v, key);
    return;
  }
  const json* factor = f.find({"partial_rotary_factor"});
  if (factor == nullptr) {
    if (const json* main = rope_section(f, "main");
        main != nullptr && main->contains("partial_rotary_factor")) {
      factor = &main->at("partial_rotary_factor");
    }
  }
  if (factor == nullptr) f.missing({"qk_rope_head_dim", "rope_head_dim", "partial_rotary_factor"});
  const double dims = f.to_number(*factor, "partial_rotary_factor") * static_cast<double>(c.head_dim);
  check(std::fabs(dims - std::round(dims)) < 1e-6,
        "{}: partial_rotary_factor × head_dim = {} is not an integer", f.origin(), dims);
  c.rope_head_dim = static_cast<int64_t>(std::round(dims));
}

// Per-layer schedule: official/reference compress_ratios, or transformers layer_types + compress_rates.
std::vector<int64_t> read_ratios(const Fields& f) {
  std::vector<int64_t> ratios;
  if (const json* v = f.find({"compress_ratios"})) {
    check(v->is_array(), "{}: field 'compress_ratios' must be a list", f.origin());
    for (const auto& r : *v) ratios.push_back(f.to_integer(r, "compress_ratios"));
    return ratios;
  }
  const json* types = f.find({"layer_types"});
  if (types == nullptr) f.missing({"compress_ratios", "layer_types"});
  check(types->is_array(), "{}: field 'layer_types' must be a list", f.origin());
  int64_t csa = 4, hca = 128;
  if (const json* rates = f.find({"compress_rates"})) {
    check(rates->is_object(), "{}: field 'compress_rates' must be an object", f.origin());
    csa = f.to_integer(rates->value("compressed_sparse_attention", json(4)),
                       "compress_rates.compressed_sparse_attention");
    hca = f.to_integer(rates->value("heavily_compressed_attention", json(128)),
                       "compress_rates.heavily_compressed_attention");
  }
  csa = f.integer_or({"compress_rate_csa"}, csa);
  hca = f.integer_or({"compress_rate_hca"}, hca);
  // The reference keys the CSA overlap and the indexer on ratio == 4; other rates would be misread.
  check(csa == 4, "{}: compress_rates.compressed_sparse_attention = {} is not supported (must be 4)",
        f.origin(), csa);
  check(hca > 0 && hca != 4,
        "{}: compress_rates.heavily_compressed_attention = {} is not supported (must be > 0, != 4)",
        f.origin(), hca);
  for (const auto& t : *types) {
    const std::string name = t.is_string() ? t.get<std::string>() : t.dump();
    if (name == "sliding_attention")
      ratios.push_back(0);
    else if (name == "compressed_sparse_attention")
      ratios.push_back(csa);
    else if (name == "heavily_compressed_attention")
      ratios.push_back(hca);
    else
      fail(
          "{}: layer_types entry '{}' is not sliding_attention / compressed_sparse_attention / "
          "heavily_compressed_attention",
          f.origin(), name);
  }
  return ratios;
}

void read_schedule(const Fields& f, Config& c) {
  const std::vector<int64_t> ratios = read_ratios(f);
  const auto n = static_cast<size_t>(c.num_layers);
  const auto mtp = static_cast<size_t>(c.num_nextn_predict_layers);
  check(ratios.size() >= n && (c.dspark || ratios.size() <= n + mtp),
        "{}: compress_ratios has {} entries; expected {} (num_hidden_layers){}", f.origin(), ratios.size(), n,
        mtp > 0 ? fmt::format(" or {} (+ MTP)", n + mtp) : "");
  for (size_t i = 0; i < ratios.size(); ++i) {
    check(ratios[i] >= 0, "{}: compress_ratios[{}] = {} is negative", f.origin(), i, ratios[i]);
  }
  std::vector<MoeRouting> routing(n, MoeRouting::kLearned);
  if (const json* types = f.find({"mlp_layer_types"})) {
    check(types->is_array() && types->size() >= n, "{}: field 'mlp_layer_types' must list {} layers",
          f.origin(), n);
    for (size_t i = 0; i < n; ++i) {
      const json& t = (*types)[i];
      check(t == "hash_moe" || t == "moe", "{}: mlp_layer_types[{}] = {} is not hash_moe / moe", f.origin(),
            i, t.dump());
      routing[i] = t == "hash_moe" ? MoeRouting::kHash : MoeRouting::kLearned;
    }
  } else {
    const int64_t hash = f.integer({"num_hash_layers", "n_hash_layers"});
    check(hash >= 0 && hash <= c.num_layers, "{}: num_hash_layers = {} must be within [0, {}]", f.origin(),
          hash, c.num_layers);
    for (int64_t i = 0; i < hash; ++i) routing[static_cast<size_t>(i)] = MoeRouting::kHash;
  }
  c.layers.clear();
  for (size_t i = 0; i < n; ++i) c.layers.push_back({ratios[i], routing[i]});
  c.mtp_layers.clear();
  for (size_t i = 0; i < mtp; ++i) {
    c.mtp_layers.push_back({n + i < ratios.size() && !c.dspark ? ratios[n + i] : 0, MoeRouting::kLearned});
  }
}

// YaRN parameters from rope_scaling (official), rope_parameters.compress (transformers) or the
// reference's flat original_seq_len / rope_factor / beta_fast / beta_slow.
void read_yarn(const Fields& f, Config& c) {
  const json* scaling = f.find({"rope_scaling"});
  if (scaling == nullptr) scaling = rope_section(f, "compress");
  if (scaling == nullptr) {
    if (const json* rp = f.find({"rope_parameters"}); rp != nullptr && rp->is_object()) scaling = rp;
  }
  c.yarn = YarnScaling{};
  if (scaling != nullptr) {
    check(scaling->is_object(), "{}: field 'rope_scaling' must be an object", f.origin());
    const Fields s(*scaling, f.origin() + " rope scaling");
    const std::string type = s.string_or({"rope_type", "type"}, "default");
    if (type == "default") return;
    check(type == "yarn", "{}: unsupported rope scaling type '{}' (V4 uses yarn)", f.origin(), type);
    check(s.number_or({"attention_factor"}, 1.0) == 1.0,
          "{}: rope attention_factor must be 1 (V4 applies YaRN without mscale)", f.origin());
    c.yarn.enabled = true;
    c.yarn.factor = s.number({"factor"});
    c.yarn.original_max_position = s.integer({"original_max_position_embeddings"});
    c.yarn.beta_fast = s.number_or({"beta_fast"}, 32.0);
    c.yarn.beta_slow = s.number_or({"beta_slow"}, 1.0);
    return;
  }
  const int64_t original = f.integer_or({"original_seq_len"}, 0);
  if (original <= 0) return;
  c.yarn.enabled = true;
  c.yarn.original_max_position = original;
  c.yarn.factor = f.number({"rope_factor"});
  c.yarn.beta_fast = f.number_or({"beta_fast"}, 32.0);
  c.yarn.beta_slow = f.number_or({"beta_slow"}, 1.0);
}

void read_rope(const Fields& f, Config& c, bool compressed) {
  read_rope_head_dim(f, c);
  const json* main = rope_section(f, "main");
  const json* compress = rope_section(f, "compress");
  if (const json* v = f.find({"rope_theta"}))
    c.rope_theta = f.to_number(*v, "rope_theta");
  else if (main != nullptr && main->contains("rope_theta"))
    c.rope_theta = f.to_number(main->at("rope_theta"), "rope_parameters.main.rope_theta");
  else
    f.missing({"rope_theta"});
  if (const json* v = f.find({"compress_rope_theta"}))
    c.compress_rope_theta = f.to_number(*v, "compress_rope_theta");
  else if (compress != nullptr && compress->contains("rope_theta"))
    c.compress_rope_theta = f.to_number(compress->at("rope_theta"), "rope_parameters.compress.rope_theta");
  else if (compressed)
    f.missing({"compress_rope_theta"});
  else
    c.compress_rope_theta = c.rope_theta;
  read_yarn(f, c);
}

void read_quantization(const Fields& f, Config& c) {
  Quantization& q = c.quant;
  q = Quantization{};
  std::string expert = f.string_or({"expert_dtype"}, "");
  if (const json* qc = f.find({"quantization_config"})) {
    check(qc->is_object(), "{}: field 'quantization_config' must be an object", f.origin());
    const Fields s(*qc, f.origin() + " quantization_config");
    const std::string method = s.string_or({"quant_method"}, "fp8");
    check(method == "fp8", "{}: unsupported quantization_config.quant_method '{}' (V4 uses fp8)", f.origin(),
          method);
    const std::string format = s.string_or({"fmt"}, "e4m3");
    check(format == "e4m3", "{}: unsupported quantization_config.fmt '{}' (V4 uses e4m3)", f.origin(),
          format);
    q.fp8_linears = true;
    if (const json* block = s.find({"weight_block_size"})) {
      check(block->is_array() && block->size() == 2,
            "{}: quantization_config.weight_block_size must be [out, in]", f.origin());
      q.block_out = s.to_integer((*block)[0], "weight_block_size[0]");
      q.block_in = s.to_integer((*block)[1], "weight_block_size[1]");
      check(q.block_out > 0 && q.block_in > 0, "{}: quantization_config.weight_block_size must be positive",
            f.origin());
    }
    q.ue8m0_scales = s.string_or({"scale_fmt"}, "") == "ue8m0";
    if (expert.empty()) expert = s.string_or({"expert_dtype"}, "");
  } else if (c.spelling == ConfigSpelling::kReference) {
    // ModelArgs: dtype fp8|bf16, scale_fmt ue8m0|null, scale_dtype fp8 (= ue8m0) | fp32; 128×128 blocks.
    q.fp8_linears = f.string_or({"dtype"}, "fp8") == "fp8";
    q.ue8m0_scales = f.string_or({"scale_fmt"}, "") == "ue8m0" || f.string_or({"scale_dtype"}, "") == "fp8";
  }
  check(expert.empty() || expert == "fp4" || expert == "fp8" || expert == "bf16",
        "{}: unsupported expert_dtype '{}' (fp4, fp8 or bf16)", f.origin(), expert);
  q.fp4_experts = expert == "fp4";
}

void check_consistency(const Config& c, const std::string& origin) {
  auto positive = [&](int64_t v, const char* name) {
    check(v > 0, "{}: field '{}' must be positive, got {}", origin, name, v);
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.num_layers, "num_hidden_layers");
  positive(c.num_heads, "num_attention_heads");
  positive(c.head_dim, "head_dim");
  positive(c.q_lora_rank, "q_lora_rank");
  positive(c.o_groups, "o_groups");
  positive(c.o_lora_rank, "o_lora_rank");
  positive(c.sliding_window, "sliding_window");
  positive(c.n_routed_experts, "n_routed_experts");
  positive(c.n_activated_experts, "num_experts_per_tok");
  positive(c.moe_inter_dim, "moe_intermediate_size");
  positive(c.hc_mult, "hc_mult");
  positive(c.hc_sinkhorn_iters, "hc_sinkhorn_iters");
  check(c.num_nextn_predict_layers >= 0, "{}: num_nextn_predict_layers must be >= 0", origin);
  check(c.rope_head_dim > 0 && c.rope_head_dim % 2 == 0 && c.rope_head_dim <= c.head_dim,
        "{}: qk_rope_head_dim = {} must be even and within (0, head_dim = {}]", origin, c.rope_head_dim,
        c.head_dim);
  check((c.num_heads * c.head_dim) % c.o_groups == 0,
        "{}: o_groups = {} must divide num_attention_heads × head_dim", origin, c.o_groups);
  check(c.n_activated_experts <= c.n_routed_experts,
        "{}: num_experts_per_tok = {} exceeds n_routed_experts = {}", origin, c.n_activated_experts,
        c.n_routed_experts);
  check(c.scoring_func == "sqrtsoftplus" || c.scoring_func == "sigmoid" || c.scoring_func == "softmax",
        "{}: unsupported scoring_func '{}'", origin, c.scoring_func);
  check(c.rms_norm_eps > 0 && c.hc_eps >= 0 && c.swiglu_limit >= 0,
        "{}: rms_norm_eps must be > 0, hc_eps and swiglu_limit >= 0", origin);
  check(c.rope_theta > 0 && c.compress_rope_theta > 0, "{}: rope thetas must be positive", origin);
  if (c.yarn.enabled) {
    check(c.yarn.factor > 0 && c.yarn.original_max_position > 0,
          "{}: yarn factor and original_max_position_embeddings must be positive", origin);
  }
}

void read_indexer(const Fields& f, Config& c) {
  const bool csa = std::any_of(c.layers.begin(), c.layers.end(),
                               [](const LayerSpec& l) { return l.attention() == AttentionKind::kCsa; });
  if (!csa) {
    c.index_n_heads = f.integer_or({"index_n_heads"}, 0);
    c.index_head_dim = f.integer_or({"index_head_dim"}, 0);
    c.index_topk = f.integer_or({"index_topk"}, 0);
    return;
  }
  c.index_n_heads = f.integer({"index_n_heads"});
  c.index_head_dim = f.integer({"index_head_dim"});
  c.index_topk = f.integer({"index_topk"});
  check(c.index_n_heads > 0 && c.index_head_dim > 0 && c.index_topk > 0,
        "{}: index_n_heads, index_head_dim and index_topk must be positive", f.origin());
  check(c.index_head_dim >= c.rope_head_dim, "{}: index_head_dim = {} is smaller than qk_rope_head_dim = {}",
        f.origin(), c.index_head_dim, c.rope_head_dim);
}

}  // namespace

Config parse_config(const json& root, const std::string& origin) {
  check(root.is_object(), "{}: config must be a JSON object", origin);
  const Fields f(root, origin);
  reject_unsupported(f);
  Config c;
  c.source = origin;
  c.spelling = detect_spelling(root);
  c.model_type = "deepseek_v4";
  read_sizes(f, c);
  read_schedule(f, c);
  const bool compressed =
      std::any_of(c.layers.begin(), c.layers.end(), [](const LayerSpec& l) { return l.compress_ratio > 0; });
  read_rope(f, c, compressed);
  read_indexer(f, c);
  read_quantization(f, c);
  check_consistency(c, origin);
  if (c.dspark)
    log::info("{}: DSpark draft module (dspark_* keys): mtp.* is not the V4 MTP block and is skipped",
              origin);
  return c;
}

Config load_config(const std::filesystem::path& path) {
  const std::filesystem::path file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  std::ifstream in(file, std::ios::binary);
  check(in.good(), "{}: cannot open config file", file.string());
  std::stringstream text;
  text << in.rdbuf();
  json root;
  try {
    root = json::parse(text.str());
  } catch (const json::exception& e) {
    fail("{}: malformed JSON: {}", file.string(), e.what());
  }
  return parse_config(root, file.string());
}

}  // namespace baleen
