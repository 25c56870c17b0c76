#include "model/layout.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace baleen {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Appends tensors to a list under one name prefix.
class Builder {
 public:
  Builder(const Config& c, std::vector<ExpectedTensor>& out, bool mtp) : c_(c), out_(out), mtp_(mtp) {}

  void add(const std::string& name, std::vector<int64_t> shape, TensorRole role, DType official) {
    out_.push_back({name, std::move(shape), role, official, mtp_});
  }
  void norm(const std::string& name, int64_t dim) {
    add(name + ".weight", {dim}, TensorRole::kFloat, DType::kBF16);
  }
  void f32(const std::string& name, std::vector<int64_t> shape) {
    add(name, std::move(shape), TensorRole::kFloat, DType::kF32);
  }
  void linear(const std::string& name, int64_t out, int64_t in) {
    add(name + ".weight", {out, in}, TensorRole::kLinear,
        c_.quant.fp8_linears ? DType::kF8E4M3 : DType::kBF16);
  }
  void bf16(const std::string& name, int64_t out, int64_t in) {
    add(name + ".weight", {out, in}, TensorRole::kFloat, DType::kBF16);
  }
  void expert(const std::string& name, int64_t out, int64_t in) {
    const DType official = c_.quant.fp4_experts   ? DType::kF4E2M1x2
                           : c_.quant.fp8_linears ? DType::kF8E4M3
                                                  : DType::kBF16;
    add(name + ".weight", {out, in}, TensorRole::kExpert, official);
  }

  void hyper_connection(const std::string& p) {
    const int64_t n = c_.hc_mult, mix = (2 + n) * n;
    f32(p + "_fn", {mix, n * c_.hidden_size});
    f32(p + "_base", {mix});
    f32(p + "_scale", {3});
  }
  void hc_head(const std::string& p) {
    const int64_t n = c_.hc_mult;
    f32(p + "hc_head_fn", {n, n * c_.hidden_size});
    f32(p + "hc_head_base", {n});
    f32(p + "hc_head_scale", {1});
  }
  // A compressor at width `dim`; `overlap` doubles the projections and ape (CSA's two series).
  void compressor(const std::string& p, int64_t ratio, int64_t dim, bool overlap) {
    const int64_t width = overlap ? 2 * dim : dim;
    bf16(p + ".wkv", width, c_.hidden_size);
    bf16(p + ".wgate", width, c_.hidden_size);
    f32(p + ".ape", {ratio, width});
    norm(p + ".norm", dim);
  }

  void attention(const std::string& p, const LayerSpec& layer) {
    const int64_t D = c_.hidden_size, H = c_.num_heads, d = c_.head_dim, g = c_.o_groups;
    linear(p + ".wq_a", c_.q_lora_rank, D);
    norm(p + ".q_norm", c_.q_lora_rank);
    linear(p + ".wq_b", H * d, c_.q_lora_rank);
    linear(p + ".wkv", d, D);
    norm(p + ".kv_norm", d);
    linear(p + ".wo_a", g * c_.o_lora_rank, H * d / g);
    linear(p + ".wo_b", D, g * c_.o_lora_rank);
    f32(p + ".attn_sink", {H});
    const AttentionKind kind = layer.attention();
    if (kind == AttentionKind::kSliding) return;
    compressor(p + ".compressor", layer.compress_ratio, d, kind == AttentionKind::kCsa);
    if (kind != AttentionKind::kCsa) return;
    linear(p + ".indexer.wq_b", c_.index_n_heads * c_.index_head_dim, c_.q_lora_rank);
    bf16(p + ".indexer.weights_proj", c_.index_n_heads, D);
    compressor(p + ".indexer.compressor", layer.compress_ratio, c_.index_head_dim, true);
  }

  void moe(const std::string& p, const LayerSpec& layer) {
    const int64_t D = c_.hidden_size, F = c_.moe_inter_dim;
    bf16(p + ".gate", c_.n_routed_experts, D);
    if (layer.routing == MoeRouting::kHash) {
      add(p + ".gate.tid2eid", {c_.vocab_size, c_.n_activated_experts}, TensorRole::kIndex, DType::kI64);
    } else {
      f32(p + ".gate.bias", {c_.n_routed_experts});
    }
    for (int64_t e = 0; e < c_.n_routed_experts; ++e) {
      const std::string x = fmt::format("{}.experts.{}", p, e);
      expert(x + ".w1", F, D);
      expert(x + ".w2", D, F);
      expert(x + ".w3", F, D);
    }
    linear(p + ".shared_experts.w1", F, D);
    linear(p + ".shared_experts.w2", D, F);
    linear(p + ".shared_experts.w3", F, D);
  }

  void block(const std::string& p, const LayerSpec& layer) {
    hyper_connection(p + ".hc_attn");
    hyper_connection(p + ".hc_ffn");
    norm(p + ".attn_norm", c_.hidden_size);
    norm(p + ".ffn_norm", c_.hidden_size);
    attention(p + ".attn", layer);
    moe(p + ".ffn", layer);
  }

 private:
  const Config& c_;
  std::vector<ExpectedTensor>& out_;
  bool mtp_;
};

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// transformers module paths (after self_attn/mlp became attn/ffn) -> official, most specific first.
// A rule ending in '.' rewrites a prefix; one without rewrites the whole remainder.
constexpr std::array<std::pair<std::string_view, std::string_view>, 27> kLayerRules{{
    {"input_layernorm.", "attn_norm."},
    {"post_attention_layernorm.", "ffn_norm."},
    {"attn_hc.fn", "hc_attn_fn"},
    {"attn_hc.base", "hc_attn_base"},
    {"attn_hc.scale", "hc_attn_scale"},
    {"ffn_hc.fn", "hc_ffn_fn"},
    {"ffn_hc.base", "hc_ffn_base"},
    {"ffn_hc.scale", "hc_ffn_scale"},
    {"attn.compressor.indexer.scorer.weights_proj.", "attn.indexer.weights_proj."},
    {"attn.compressor.indexer.q_b_proj.", "attn.indexer.wq_b."},
    {"attn.compressor.indexer.kv_proj.", "attn.indexer.compressor.wkv."},
    {"attn.compressor.indexer.gate_proj.", "attn.indexer.compressor.wgate."},
    {"attn.compressor.indexer.kv_norm.", "attn.indexer.compressor.norm."},
    {"attn.compressor.indexer.position_bias", "attn.indexer.compressor.ape"},
    {"attn.compressor.kv_proj.", "attn.compressor.wkv."},
    {"attn.compressor.gate_proj.", "attn.compressor.wgate."},
    {"attn.compressor.kv_norm.", "attn.compressor.norm."},
    {"attn.compressor.position_bias", "attn.compressor.ape"},
    {"attn.q_a_proj.", "attn.wq_a."},
    {"attn.q_a_norm.", "attn.q_norm."},
    {"attn.q_b_proj.", "attn.wq_b."},
    {"attn.kv_proj.", "attn.wkv."},
    {"attn.o_a_proj.", "attn.wo_a."},
    {"attn.o_b_proj.", "attn.wo_b."},
    {"attn.sinks", "attn.attn_sink"},
    {"attn.norm.", "attn.kv_norm."},  // transformers' save_pretrained writes the kv norm as attn.norm
    {"ffn.gate.e_score_correction_bias", "ffn.gate.bias"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kProjections{
    {{"gate_proj.", "w1."}, {"up_proj.", "w3."}, {"down_proj.", "w2."}}};

std::string rewrite(std::string rest) {
  if (starts_with(rest, "self_attn.")) rest = "attn." + rest.substr(10);
  if (starts_with(rest, "mlp.")) rest = "ffn." + rest.substr(4);
  for (const auto& [from, to] : kLayerRules) {
    const bool prefix = from.back() == '.';
    if (prefix ? starts_with(rest, from) : rest == from) return std::string(to) + rest.substr(from.size());
  }
  // Per-expert / shared-expert MLPs: gate_proj, up_proj, down_proj -> w1, w3, w2.
  std::string head;
  if (starts_with(rest, "ffn.shared_experts.")) {
    head = "ffn.shared_experts.";
  } else if (starts_with(rest, "ffn.experts.")) {
    const size_t dot = rest.find('.', 12);
    if (dot != std::string::npos && dot > 12) head = rest.substr(0, dot + 1);
  }
  if (!head.empty()) {
    const std::string tail = rest.substr(head.size());
    for (const auto& [from, to] : kProjections) {
      if (starts_with(tail, from)) return head + std::string(to) + tail.substr(from.size());
    }
  }
  return rest;
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const Config& c) {
  std::vector<ExpectedTensor> out;
  Builder top(c, out, false);
  top.add("embed.weight", {c.vocab_size, c.hidden_size}, TensorRole::kLinear, DType::kBF16);
  top.add("head.weight", {c.vocab_size, c.hidden_size}, TensorRole::kLinear, DType::kBF16);
  top.norm("norm", c.hidden_size);
  top.hc_head("");
  for (size_t i = 0; i < c.layers.size(); ++i) top.block(fmt::format("layers.{}", i), c.layers[i]);
  if (c.dspark) return out;  // a DSpark draft module is not the V4 MTP block
  Builder mtp(c, out, true);
  for (size_t i = 0; i < c.mtp_layers.size(); ++i) {
    const std::string p = fmt::format("mtp.{}", i);
    mtp.linear(p + ".e_proj", c.hidden_size, c.hidden_size);
    mtp.linear(p + ".h_proj", c.hidden_size, c.hidden_size);
    mtp.norm(p + ".enorm", c.hidden_size);
    mtp.norm(p + ".hnorm", c.hidden_size);
    mtp.norm(p + ".norm", c.hidden_size);
    mtp.hc_head(p + ".");
    mtp.block(p, c.mtp_layers[i]);
  }
  return out;
}

std::string scale_name(std::string_view weight_name) {
  constexpr std::string_view kWeight = ".weight";
  if (weight_name.size() > kWeight.size() &&
      weight_name.substr(weight_name.size() - kWeight.size()) == kWeight) {
    weight_name.remove_suffix(kWeight.size());
  }
  return std::string(weight_name) + ".scale";
}

DType official_scale_dtype(const Config& config) {
  return config.quant.ue8m0_scales || config.quant.fp4_experts ? DType::kUE8M0 : DType::kF32;
}

std::vector<int64_t> official_scale_shape(const Config& c, const ExpectedTensor& t, DType dtype) {
  if (t.shape.size() != 2) return {};
  if (dtype == DType::kF8E4M3) {
    return {ceil_div(t.shape[0], c.quant.block_out), ceil_div(t.shape[1], c.quant.block_in)};
  }
  if (dtype == DType::kF4E2M1x2) return {t.shape[0], ceil_div(t.shape[1], c.quant.fp4_block)};
  return {};
}

std::string canonical_name(std::string_view stored) {
  std::string n(stored);
  if (starts_with(n, "model.")) n = n.substr(6);
  constexpr std::string_view kInv = ".weight_scale_inv";
  if (n.size() > kInv.size() && n.substr(n.size() - kInv.size()) == kInv) {
    n = n.substr(0, n.size() - kInv.size()) + ".scale";
  }
  constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kTop{
      {{"embed_tokens.", "embed."},
       {"lm_head.", "head."},
       {"hc_head.hc_fn", "hc_head_fn"},
       {"hc_head.hc_base", "hc_head_base"},
       {"hc_head.hc_scale", "hc_head_scale"}}};
  for (const auto& [from, to] : kTop) {
    const bool prefix = from.back() == '.';
    if (prefix ? starts_with(n, from) : n == from) return std::string(to) + n.substr(from.size());
  }
  for (std::string_view group : {"layers.", "mtp."}) {
    if (!starts_with(n, group)) continue;
    const size_t dot = n.find('.', group.size());
    if (dot == std::string::npos || dot == group.size()) return n;
    return n.substr(0, dot + 1) + rewrite(n.substr(dot + 1));
  }
  return n;
}

}  // namespace baleen
