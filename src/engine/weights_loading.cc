// load_weights: the checkpoint's tensors (canonical official names, spec checkpoint.md) dequantized to fp32.
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/weights.h"
#include "model/checkpoint.h"

namespace baleen {
namespace {

// Reads tensors by name, collecting every missing one for a single error at the end.
class Reader {
 public:
  explicit Reader(const Checkpoint& ckpt) : ckpt_(ckpt) {}

  Tensor get(const std::string& name) {
    if (ckpt_.has(name)) return ckpt_.load_f32(name);
    missing_.push_back(name);
    return {};
  }
  // The first of several accepted spellings.
  Tensor get_any(const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      if (ckpt_.has(n)) return ckpt_.load_f32(n);
    }
    missing_.push_back(names.front());
    return {};
  }
  std::vector<int32_t> get_ids(const std::string& name) {
    const Tensor t = get(name);
    std::vector<int32_t> ids;
    for (float v : t.values()) ids.push_back(static_cast<int32_t>(std::lround(v)));
    return ids;
  }
  void finish() const {
    if (!missing_.empty())
      fail("checkpoint lacks {} tensor(s): {}", missing_.size(), fmt::join(missing_, ", "));
  }

 private:
  const Checkpoint& ckpt_;
  std::vector<std::string> missing_;
};

CompressorWeights read_compressor(Reader& r, const std::string& p) {
  return {r.get(p + "wkv.weight"), r.get(p + "wgate.weight"), r.get(p + "ape"), r.get(p + "norm.weight")};
}

AttentionWeights read_attention(Reader& r, const LayerSpec& spec, const std::string& p) {
  AttentionWeights a{r.get(p + "wq_a.weight"),
                     r.get(p + "q_norm.weight"),
                     r.get(p + "wq_b.weight"),
                     r.get(p + "wkv.weight"),
                     r.get_any({p + "kv_norm.weight", p + "norm.weight"}),
                     r.get(p + "wo_a.weight"),
                     r.get(p + "wo_b.weight"),
                     r.get(p + "attn_sink"),
                     std::nullopt,
                     std::nullopt};
  const AttentionKind kind = attention_kind(spec);
  if (kind != AttentionKind::kSliding) a.compressor = read_compressor(r, p + "compressor.");
  if (kind == AttentionKind::kCsa) {
    a.indexer = IndexerWeights{r.get(p + "indexer.wq_b.weight"), r.get(p + "indexer.weights_proj.weight"),
                               read_compressor(r, p + "indexer.compressor.")};
  }
  return a;
}

ExpertTensors read_expert(Reader& r, const std::string& p) {
  return {r.get(p + "w1.weight"), r.get(p + "w2.weight"), r.get(p + "w3.weight")};
}

MoeWeights read_moe(Reader& r, const Config& c, const LayerSpec& spec, const std::string& p) {
  MoeWeights m;
  m.gate = r.get(p + "gate.weight");
  if (spec.routing == MoeRouting::kHash) {
    m.tid2eid = r.get_ids(p + "gate.tid2eid");
  } else {
    m.bias = r.get(p + "gate.bias");
  }
  for (int64_t e = 0; e < c.n_routed_experts; ++e)
    m.experts.push_back(read_expert(r, fmt::format("{}experts.{}.", p, e)));
  m.shared = read_expert(r, p + "shared_experts.");
  return m;
}

HyperConnectionWeights read_hc(Reader& r, const std::string& p) {
  return {r.get(p + "fn"), r.get(p + "base"), r.get(p + "scale")};
}

}  // namespace

ModelWeights load_weights(const Checkpoint& checkpoint) {
  const Config& c = checkpoint.config();
  Reader r(checkpoint);
  ModelWeights w;
  w.embed = r.get("embed.weight");
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const std::string p = fmt::format("layers.{}.", i);
    LayerWeights l;
    l.hc_attn = read_hc(r, p + "hc_attn_");
    l.hc_ffn = read_hc(r, p + "hc_ffn_");
    l.attn_norm = r.get(p + "attn_norm.weight");
    l.ffn_norm = r.get(p + "ffn_norm.weight");
    l.attn = read_attention(r, c.layers[i], p + "attn.");
    l.ffn = read_moe(r, c, c.layers[i], p + "ffn.");
    w.layers.push_back(std::move(l));
  }
  w.hc_head = read_hc(r, "hc_head_");
  w.norm = r.get("norm.weight");
  w.head = r.get("head.weight");
  r.finish();
  return w;
}

}  // namespace baleen
