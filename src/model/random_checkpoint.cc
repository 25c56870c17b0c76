#include "model/random_checkpoint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/layout.h"
#include "model/safetensors.h"

namespace baleen {
namespace {

using nlohmann::json;

// DeepSeek-V4-Flash's config.json as shipped (tests/data/configs/deepseek-v4-flash.json), less the layer
// count, the schedule and the MTP block, which random_checkpoint_config sets.
json flash_config() {
  return {
      {"architectures", {"DeepseekV4ForCausalLM"}},
      {"model_type", "deepseek_v4"},
      {"attention_bias", false},
      {"bos_token_id", 0},
      {"eos_token_id", 1},
      {"expert_dtype", "fp4"},
      {"hc_eps", 1e-6},
      {"hc_mult", 4},
      {"hc_sinkhorn_iters", 20},
      {"head_dim", 512},
      {"hidden_act", "silu"},
      {"hidden_size", 4096},
      {"index_head_dim", 128},
      {"index_n_heads", 64},
      {"index_topk", 512},
      {"max_position_embeddings", 1048576},
      {"moe_intermediate_size", 2048},
      {"n_routed_experts", 256},
      {"n_shared_experts", 1},
      {"norm_topk_prob", true},
      {"num_attention_heads", 64},
      {"num_experts_per_tok", 6},
      {"num_key_value_heads", 1},
      {"o_groups", 8},
      {"o_lora_rank", 1024},
      {"q_lora_rank", 1024},
      {"qk_rope_head_dim", 64},
      {"quantization_config",
       {{"activation_scheme", "dynamic"},
        {"fmt", "e4m3"},
        {"quant_method", "fp8"},
        {"scale_fmt", "ue8m0"},
        {"weight_block_size", {128, 128}}}},
      {"rms_norm_eps", 1e-6},
      {"rope_scaling",
       {{"beta_fast", 32},
        {"beta_slow", 1},
        {"factor", 16},
        {"original_max_position_embeddings", 65536},
        {"type", "yarn"}}},
      {"rope_theta", 10000},
      {"compress_rope_theta", 160000},
      {"routed_scaling_factor", 1.5},
      {"scoring_func", "sqrtsoftplus"},
      {"sliding_window", 128},
      {"swiglu_limit", 10.0},
      {"tie_word_embeddings", false},
      {"topk_method", "noaux_tc"},
      {"torch_dtype", "bfloat16"},
      {"vocab_size", 129280},
  };
}

// The same structure at a few hundred KiB: sizes that 128×128 blocks and 32-wide FP4 blocks do not divide.
json tiny_config() {
  json c = flash_config();
  const json sizes = {{"hidden_size", 160},       {"head_dim", 48},
                      {"index_head_dim", 32},     {"index_n_heads", 2},
                      {"index_topk", 3},          {"moe_intermediate_size", 72},
                      {"n_routed_experts", 4},    {"num_attention_heads", 2},
                      {"num_experts_per_tok", 2}, {"o_groups", 2},
                      {"o_lora_rank", 24},        {"q_lora_rank", 136},
                      {"qk_rope_head_dim", 16},   {"hc_mult", 2},
                      {"sliding_window", 8},      {"vocab_size", 96}};
  c.update(sizes);
  c["rope_scaling"]["original_max_position_embeddings"] = 64;
  return c;
}

constexpr int64_t kFlashLayers = 43;

// V4-Flash's real schedule: layers 0–1 sliding, then CSA and HCA alternating, the last one sliding; the
// first 3 layers hash-routed.
int64_t flash_ratio(int64_t layer) {
  if (layer < 2 || layer == kFlashLayers - 1) return 0;
  return layer % 2 == 0 ? 4 : 128;
}

// A tensor's values: N(mean, stddev²), chosen per role the way the engine's random_weights does, so the
// residual streams keep unit scale through the layers.
struct Draw {
  double mean = 0.0, stddev = 1.0;
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Draw draw_for(const ExpectedTensor& t, const Config& c) {
  const std::string& n = t.name;
  const double cols = t.shape.size() == 2 ? double(t.shape[1]) : 1.0;
  if (ends_with(n, "norm.weight")) return {1.0, 0.1};
  if (ends_with(n, "attn_sink")) return {0.0, 1.0};
  if (ends_with(n, ".ape")) return {0.0, 0.5};
  if (ends_with(n, "gate.bias")) return {0.0, 0.3};
  if (n.find("hc_") != std::string::npos) {
    if (ends_with(n, "_fn")) return {0.0, 1.0 / std::sqrt(cols)};
    if (ends_with(n, "_base")) return {0.0, 0.5};
    return {1.0, 0.25};  // _scale
  }
  if (n == "embed.weight") return {0.0, 1.0};
  if (n == "head.weight") return {0.0, 2.5 / std::sqrt(double(c.hidden_size))};
  if (ends_with(n, "ffn.gate.weight")) return {0.0, 1.5 / std::sqrt(double(c.hidden_size))};
  return {0.0, 1.0 / std::sqrt(cols)};  // a linear layer: unit-variance outputs on unit-variance inputs
}

// Φ⁻¹((i + ½) / 65536): a 16-bit uniform draw through this table is a draw from N(0, 1) at 2^-16
// resolution (|z| ≤ 4.3), which keeps sampling billions of values a table lookup.
const std::array<float, 65536>& normal_quantiles() {
  static const std::array<float, 65536> table = [] {
    std::array<float, 65536> q{};
    for (size_t i = 0; i < q.size(); ++i) {
      const double p = (double(i) + 0.5) / double(q.size());
      double lo = -10, hi = 10;
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
      }
      q[i] = static_cast<float>(0.5 * (lo + hi));
    }
    return q;
  }();
  return table;
}

// The ue8m0 exponent (power of two) a block of N(0, σ²) values gets when quantized by its amax the way
// DeepSeek's checkpoints are (scale = 2^ceil(log2(amax / max_code))); amax ≈ `spread`·σ over the block.
int scale_exponent(double stddev, double spread, double max_code) {
  return static_cast<int>(std::ceil(std::log2(spread * stddev / max_code)));
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : s) h = (h ^ uint8_t(ch)) * 1099511628211ull;
  return h;
}

// Produces one stored tensor's bytes in order, a buffer at a time.
class TensorSource {
 public:
  TensorSource(const TensorSpec& spec, const Config& c, const ExpectedTensor& logical, uint64_t seed)
      : spec_(spec),
        c_(c),
        rng_(seed ^ fnv1a(spec.name)),
        total_(dtype_bytes(spec.dtype, spec.shape, spec.name)) {
    const Draw d = draw_for(logical, c);
    const auto& q = normal_quantiles();
    if (spec.dtype == DType::kF8E4M3 || spec.dtype == DType::kI8) {
      const bool fp8 = spec.dtype == DType::kF8E4M3;
      // FP8 over a 128×128 block: amax ≈ 4.5σ; FP4 over 32 values: ≈ 2.5σ.
      exponent_ =
          fp8 ? scale_exponent(d.stddev, 4.5, kFp8E4M3Max) : scale_exponent(d.stddev, 2.5, kFp4E2M1Max);
      const double code_stddev = d.stddev / std::ldexp(1.0, exponent_);
      for (size_t i = 0; i < q.size(); ++i) {
        const auto v = static_cast<float>(q[i] * code_stddev);
        codes_[i] = fp8 ? f32_to_fp8_e4m3(v) : f32_to_fp4_e2m1(v);  // never a NaN code
      }
    }
    for (size_t i = 0; i < q.size(); ++i) {
      values_[i] = static_cast<float>(d.mean + d.stddev * q[i]);
      bf16_[i] = f32_to_bf16(values_[i]);
    }
  }

  // The bytes of a scale tensor of `n` blocks in `dtype` (kUE8M0 or kF32): every block 2^exponent.
  std::vector<uint8_t> scale_bytes(uint64_t n, DType dtype) const {
    if (dtype == DType::kUE8M0)
      return std::vector<uint8_t>(n, static_cast<uint8_t>(std::clamp(exponent_ + 127, 0, 254)));
    std::vector<uint8_t> out(4 * n);
    const float s = std::ldexp(1.0f, exponent_);
    for (uint64_t i = 0; i < n; ++i) std::memcpy(out.data() + 4 * i, &s, 4);
    return out;
  }

  // Fills `out` with the next bytes (whole elements or table rows); returns how many; 0 at the end.
  size_t next(std::span<uint8_t> out);

 private:
  uint16_t draw() {
    if (bits_left_ == 0) bits_ = rng_(), bits_left_ = 4;
    const auto u = static_cast<uint16_t>(bits_);
    bits_ >>= 16, --bits_left_;
    return u;
  }
  size_t tid2eid_rows(std::span<uint8_t> out);

  const TensorSpec& spec_;
  const Config& c_;
  std::mt19937_64 rng_;
  uint64_t bits_ = 0;
  int bits_left_ = 0;
  uint64_t total_, done_ = 0;
  int exponent_ = 0;
  std::vector<uint8_t> codes_ = std::vector<uint8_t>(65536);   // FP8 codes / FP4 nibbles
  std::vector<float> values_ = std::vector<float>(65536);      // F32
  std::vector<uint16_t> bf16_ = std::vector<uint16_t>(65536);  // BF16
};

size_t TensorSource::next(std::span<uint8_t> out) {
  if (spec_.dtype == DType::kI64) return tid2eid_rows(out);
  const size_t elem = spec_.dtype == DType::kF32 ? 4 : spec_.dtype == DType::kBF16 ? 2 : 1;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), total_ - done_)) / elem * elem;
  uint8_t* p = out.data();
  switch (spec_.dtype) {
    case DType::kF8E4M3:
      for (size_t i = 0; i < n; ++i) p[i] = codes_[draw()];
      break;
    case DType::kI8:  // FP4 pairs, element 2i in the low nibble
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(codes_[draw()] | codes_[draw()] << 4);
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; i += 2) std::memcpy(p + i, &bf16_[draw()], 2);
      break;
    default:  // F32
      for (size_t i = 0; i < n; i += 4) std::memcpy(p + i, &values_[draw()], 4);
  }
  done_ += n;
  return n;
}

// Hash routing: each token's K experts, distinct.
size_t TensorSource::tid2eid_rows(std::span<uint8_t> out) {
  const int64_t k = spec_.shape[1];
  const size_t row = static_cast<size_t>(8 * k);
  const size_t rows = static_cast<size_t>(std::min<uint64_t>(out.size(), total_ - done_)) / row;
  std::uniform_int_distribution<int64_t> expert(0, c_.n_routed_experts - 1);
  for (size_t r = 0; r < rows; ++r) {
    std::vector<int64_t> picks;
    while (static_cast<int64_t>(picks.size()) < k) {
      const int64_t e = expert(rng_);
      if (std::find(picks.begin(), picks.end(), e) == picks.end()) picks.push_back(e);
    }
    std::memcpy(out.data() + r * row, picks.data(), row);
  }
  done_ += rows * row;
  return rows * row;
}

// What torch's save_file writes, as DeepSeek's shards carry.
const std::map<std::string, std::string> kShardMetadata = {{"format", "pt"}};

std::string shard_name(size_t i, size_t n) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
}

// Writes `text` to dir/name through a temporary file renamed into place.
void write_text(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  const auto partial = dir / (name + ".partial");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    check(out.good(), "{}: cannot open for writing", partial.string());
    out << text;
    out.flush();
    check(out.good(), "{}: write failed", partial.string());
  }
  std::filesystem::rename(partial, dir / name);
}

void check_empty_target(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir)) return;
  check(std::filesystem::is_directory(dir), "{}: not a directory", dir.string());
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    check(name != "config.json" && name != "model.safetensors.index.json" && !ends_with(name, ".safetensors"),
          "{}: already holds {}; refusing to overwrite a checkpoint", dir.string(), name);
  }
}

}  // namespace

json random_checkpoint_config(std::string_view shape, int64_t layers) {
  check(shape == "flash" || shape == "tiny", "unknown checkpoint shape '{}' (expected flash or tiny)", shape);
  const int64_t most = shape == "flash" ? kFlashLayers : 64;
  check(layers >= 1 && layers <= most, "--layers {} for shape {}: expected 1 to {}", layers, shape, most);
  json c = shape == "flash" ? flash_config() : tiny_config();
  json ratios = json::array();
  for (int64_t i = 0; i < layers; ++i) {
    ratios.push_back(shape == "flash" ? flash_ratio(i) : std::array<int64_t, 3>{0, 4, 128}[i % 3]);
  }
  c["num_hidden_layers"] = layers;
  c["compress_ratios"] = ratios;
  c["num_hash_layers"] = std::min<int64_t>(layers, shape == "flash" ? 3 : 1);
  c["num_nextn_predict_layers"] = 0;  // no MTP block
  return c;
}

CheckpointPlan plan_random_checkpoint(const Config& config, uint64_t max_shard_bytes) {
  std::vector<std::vector<TensorSpec>> groups(1);
  uint64_t in_shard = 0;
  CheckpointPlan plan;
  for (const auto& t : expected_tensors(config)) {
    std::vector<TensorSpec> specs;
    if (t.official == DType::kF4E2M1x2) {
      specs.push_back({t.name, DType::kI8, {t.shape[0], t.shape[1] / 2}});  // DeepSeek's packed FP4
    } else {
      specs.push_back({t.name, t.official, t.shape});
    }
    const auto scale = official_scale_shape(config, t, t.official);
    if (!scale.empty()) specs.push_back({scale_name(t.name), official_scale_dtype(config), scale});
    uint64_t bytes = 0;
    for (const auto& s : specs) bytes += dtype_bytes(s.dtype, s.shape, s.name);
    if (in_shard > 0 && in_shard + bytes > max_shard_bytes) groups.emplace_back(), in_shard = 0;
    groups.back().insert(groups.back().end(), specs.begin(), specs.end());
    in_shard += bytes;
    plan.tensor_bytes += bytes;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    ShardPlan s{shard_name(i, groups.size()), std::move(groups[i]), 0};
    s.file_bytes = safetensors_file_size(s.tensors, kShardMetadata);
    plan.file_bytes += s.file_bytes;
    plan.shards.push_back(std::move(s));
  }
  return plan;
}

void write_random_checkpoint(const json& config_json, const std::filesystem::path& dir, uint64_t seed,
                             uint64_t max_shard_bytes) {
  check_empty_target(dir);
  std::filesystem::create_directories(dir);
  const Config config = parse_config(config_json, (dir / "config.json").string());
  const CheckpointPlan plan = plan_random_checkpoint(config, max_shard_bytes);
  std::map<std::string, ExpectedTensor> logical;
  for (const auto& t : expected_tensors(config)) logical.emplace(t.name, t);
  Progress progress(fmt::format("writing {}", dir.string()), plan.tensor_bytes);
  std::vector<uint8_t> buffer(size_t{4} << 20);
  json weight_map = json::object();
  for (const auto& shard : plan.shards) {
    SafetensorsWriter writer(dir / shard.file, shard.tensors, kShardMetadata);
    for (size_t i = 0; i < shard.tensors.size(); ++i) {
      const TensorSpec& spec = shard.tensors[i];
      weight_map[spec.name] = shard.file;
      // A scale follows from its weight's draw (the plan puts it right after the weight).
      const bool is_scale = ends_with(spec.name, ".scale");
      const std::string weight = is_scale ? spec.name.substr(0, spec.name.size() - 6) + ".weight" : spec.name;
      TensorSource source(is_scale ? shard.tensors[i - 1] : spec, config, logical.at(weight), seed);
      if (is_scale) {
        const auto bytes = source.scale_bytes(shape_elements(spec.shape, spec.name), spec.dtype);
        writer.append(bytes);
        progress.advance(bytes.size());
        continue;
      }
      for (size_t n; (n = source.next(buffer)) > 0;) {
        writer.append({buffer.data(), n});
        progress.advance(n);
      }
    }
    writer.finish();
  }
  progress.finish();
  write_text(dir, "config.json", config_json.dump(2) + "\n");
  const json index = {{"metadata", {{"total_size", plan.tensor_bytes}}}, {"weight_map", weight_map}};
  write_text(dir, "model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace baleen
