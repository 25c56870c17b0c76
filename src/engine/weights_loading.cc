// upload_weights and load_weights: host tensors or a checkpoint's tensors (canonical official names, spec
// checkpoint.md) onto a backend, through one walk over the model's parameters.
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/kept_rows.h"
#include "engine/weights.h"
#include "model/checkpoint.h"

namespace baleen {
namespace {

// Where the walk gets a parameter: fp32 tables always, linear weights as the source stores them.
class Source {
 public:
  virtual ~Source() = default;
  virtual const float* table(const std::string& name) = 0;
  // A table of expert ids, each checked to lie in [0, bound).
  virtual const int32_t* ids(const std::string& name, int64_t bound) = 0;
  virtual WeightView linear(const std::string& name) = 0;
  // The head as a host view (to look for zero rows) and as the backend holds it.
  virtual WeightView host_linear(const std::string& name) = 0;
};

// A checkpoint's tensors; every missing one is collected for a single error at the end.
class CheckpointSource final : public Source {
 public:
  CheckpointSource(const Checkpoint& ckpt, Backend& backend, WeightFormat format)
      : ckpt_(ckpt), backend_(backend), format_(format) {}

  const float* table(const std::string& name) override {
    const std::optional<std::string> found = find({name});
    if (!found) return nullptr;
    const Tensor t = ckpt_.load_f32(*found);
    return static_cast<const float*>(backend_.upload(t.data(), t.size() * 4));
  }
  // The first of several accepted spellings.
  const float* table_any(const std::vector<std::string>& names) {
    const std::optional<std::string> found = find(names);
    if (!found) return nullptr;
    const Tensor t = ckpt_.load_f32(*found);
    return static_cast<const float*>(backend_.upload(t.data(), t.size() * 4));
  }
  const int32_t* ids(const std::string& name, int64_t bound) override {
    if (!find({name})) return nullptr;
    std::vector<int32_t> v;
    const Tensor table = ckpt_.load_f32(name);
    for (float x : table.values()) {
      v.push_back(static_cast<int32_t>(std::lround(x)));
      check(v.back() >= 0 && v.back() < bound, "{}: expert {} out of range [0, {})", name, v.back(), bound);
    }
    return static_cast<const int32_t*>(backend_.upload(v.data(), static_cast<int64_t>(v.size()) * 4));
  }
  WeightView linear(const std::string& name) override {
    if (!find({name})) return {};
    if (format_ == WeightFormat::kStored) {
      const WeightView stored = ckpt_.stored_weight(name);
      check(backend_.supports(stored), "{}: the {} backend cannot multiply {} weights", name, backend_.name(),
            dtype_name(stored.dtype));
      return backend_.upload_weight(stored, HostMemory::kPersistent);
    }
    held_.push_back(ckpt_.load_f32(name));
    return backend_.upload_weight(weight_view(held_.back()), HostMemory::kTransient);
  }
  WeightView host_linear(const std::string& name) override {
    if (!find({name})) return {};
    if (format_ == WeightFormat::kStored) return ckpt_.stored_weight(name);
    held_.push_back(ckpt_.load_f32(name));
    return weight_view(held_.back());
  }
  void finish() const {
    if (!missing_.empty())
      fail("checkpoint lacks {} tensor(s): {}", missing_.size(), fmt::join(missing_, ", "));
  }

 private:
  // The first name the checkpoint has, or nullopt (and the first name is recorded as missing).
  std::optional<std::string> find(const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      if (ckpt_.has(n)) return n;
    }
    missing_.push_back(names.front());
    return std::nullopt;
  }

  const Checkpoint& ckpt_;
  Backend& backend_;
  WeightFormat format_;
  std::vector<std::string> missing_;
  std::vector<Tensor> held_;  // fp32 copies while a transient upload happens
};


// Host fp32 tensors by their canonical names.
class HostSource final : public Source {
 public:
  HostSource(const ModelWeights& w, Backend& backend) : backend_(backend) { name_all(w); }

  const float* table(const std::string& name) override {
    const Tensor& t = get(name);
    return static_cast<const float*>(backend_.upload(t.data(), t.size() * 4));
  }
  const int32_t* ids(const std::string& name, int64_t) override {  // checked with the shapes
    auto it = ids_.find(name);
    check(it != ids_.end(), "host weights lack '{}'", name);
    return static_cast<const int32_t*>(
        backend_.upload(it->second->data(), static_cast<int64_t>(it->second->size()) * 4));
  }
  WeightView linear(const std::string& name) override {
    return backend_.upload_weight(weight_view(get(name)), HostMemory::kTransient);
  }
  WeightView host_linear(const std::string& name) override { return weight_view(get(name)); }

 private:
  const Tensor& get(const std::string& name) const {
    auto it = tensors_.find(name);
    check(it != tensors_.end(), "host weights lack '{}'", name);
    return *it->second;
  }
  void hc(const HyperConnectionWeights& h, const std::string& p) {
    tensors_[p + "fn"] = &h.fn;
    tensors_[p + "base"] = &h.base;
    tensors_[p + "scale"] = &h.scale;
  }
  void compressor(const CompressorWeights& c, const std::string& p) {
    tensors_[p + "wkv.weight"] = &c.wkv;
    tensors_[p + "wgate.weight"] = &c.wgate;
    tensors_[p + "ape"] = &c.ape;
    tensors_[p + "norm.weight"] = &c.norm;
  }
  void expert(const ExpertTensors& e, const std::string& p) {
    tensors_[p + "w1.weight"] = &e.w1;
    tensors_[p + "w2.weight"] = &e.w2;
    tensors_[p + "w3.weight"] = &e.w3;
  }
  void name_all(const ModelWeights& w) {
    tensors_["embed.weight"] = &w.embed;
    tensors_["norm.weight"] = &w.norm;
    tensors_["head.weight"] = &w.head;
    hc(w.hc_head, "hc_head_");
    for (size_t i = 0; i < w.layers.size(); ++i) {
      const LayerWeights& l = w.layers[i];
      const std::string p = fmt::format("layers.{}.", i), a = p + "attn.";
      hc(l.hc_attn, p + "hc_attn_");
      hc(l.hc_ffn, p + "hc_ffn_");
      tensors_[p + "attn_norm.weight"] = &l.attn_norm;
      tensors_[p + "ffn_norm.weight"] = &l.ffn_norm;
      for (auto [name, t] : {std::pair{"wq_a.weight", &l.attn.wq_a}, {"q_norm.weight", &l.attn.q_norm},
                             {"wq_b.weight", &l.attn.wq_b}, {"wkv.weight", &l.attn.wkv},
                             {"kv_norm.weight", &l.attn.kv_norm}, {"wo_a.weight", &l.attn.wo_a},
                             {"wo_b.weight", &l.attn.wo_b}, {"attn_sink", &l.attn.sinks}}) {
        tensors_[a + name] = t;
      }
      if (l.attn.compressor) compressor(*l.attn.compressor, a + "compressor.");
      if (l.attn.indexer) {
        tensors_[a + "indexer.wq_b.weight"] = &l.attn.indexer->wq_b;
        tensors_[a + "indexer.weights_proj.weight"] = &l.attn.indexer->weights_proj;
        compressor(l.attn.indexer->compressor, a + "indexer.compressor.");
      }
      tensors_[p + "ffn.gate.weight"] = &l.ffn.gate;
      tensors_[p + "ffn.gate.bias"] = &l.ffn.bias;
      ids_[p + "ffn.gate.tid2eid"] = &l.ffn.tid2eid;
      for (size_t e = 0; e < l.ffn.experts.size(); ++e) expert(l.ffn.experts[e], fmt::format("{}ffn.experts.{}.", p, e));
      expert(l.ffn.shared, p + "ffn.shared_experts.");
    }
  }

  Backend& backend_;
  std::map<std::string, const Tensor*> tensors_;
  std::map<std::string, const std::vector<int32_t>*> ids_;
};

BackendWeights::HyperConnection read_hc(Source& s, const std::string& p) {
  return {s.table(p + "fn"), s.table(p + "base"), s.table(p + "scale")};
}

BackendWeights::Compressor read_compressor(Source& s, const std::string& p) {
  return {s.linear(p + "wkv.weight"), s.linear(p + "wgate.weight"), s.table(p + "ape"),
          s.table(p + "norm.weight")};
}

ExpertWeights read_expert(Source& s, const std::string& p) {
  return {s.linear(p + "w1.weight"), s.linear(p + "w2.weight"), s.linear(p + "w3.weight")};
}

BackendWeights::Attention read_attention(Source& s, const LayerSpec& spec, const std::string& p,
                                         const float* kv_norm) {
  BackendWeights::Attention a;
  a.wq_a = s.linear(p + "wq_a.weight");
  a.q_norm = s.table(p + "q_norm.weight");
  a.wq_b = s.linear(p + "wq_b.weight");
  a.wkv = s.linear(p + "wkv.weight");
  a.kv_norm = kv_norm;
  a.wo_a = s.linear(p + "wo_a.weight");
  a.wo_b = s.linear(p + "wo_b.weight");
  a.sinks = s.table(p + "attn_sink");
  const AttentionKind kind = spec.attention();
  if (kind != AttentionKind::kSliding) a.compressor = read_compressor(s, p + "compressor.");
  if (kind == AttentionKind::kCsa) {
    a.indexer = BackendWeights::Indexer{s.linear(p + "indexer.wq_b.weight"),
                                        s.linear(p + "indexer.weights_proj.weight"),
                                        read_compressor(s, p + "indexer.compressor.")};
  }
  return a;
}

BackendWeights::Moe read_moe(Source& s, const Config& c, const LayerSpec& spec, const std::string& p) {
  BackendWeights::Moe m;
  m.gate = s.linear(p + "gate.weight");
  if (spec.routing == MoeRouting::kHash) {
    m.tid2eid = s.ids(p + "gate.tid2eid", c.n_routed_experts);
  } else {
    m.bias = s.table(p + "gate.bias");
  }
  for (int64_t e = 0; e < c.n_routed_experts; ++e) m.experts.push_back(read_expert(s, fmt::format("{}experts.{}.", p, e)));
  m.shared = read_expert(s, p + "shared_experts.");
  return m;
}

// At least half zero rows before the packed head pays for its scatter; real checkpoints have none.
constexpr double kMinZeroRows = 0.5;

void read_head(Source& s, Backend& backend, BackendWeights& w) {
  w.head = s.linear("head.weight");
  const WeightView host = s.host_linear("head.weight");
  if (!host.data) return;
  std::optional<KeptRows> kept = find_kept_rows(host, kMinZeroRows);
  if (!kept) return;
  WeightView packed = host;
  packed.data = kept->packed.data();
  packed.rows = kept->count();
  w.head_rows = BackendWeights::KeptRows{
      backend.upload_weight(packed, HostMemory::kTransient),
      static_cast<const int32_t*>(backend.upload(kept->rows.data(), kept->count() * 4))};
}

// The walk over every parameter, in the checkpoint's order.
template <typename ReadKvNorm>
BackendWeights read_all(Source& s, Backend& backend, const Config& c, ReadKvNorm&& kv_norm) {
  BackendWeights w;
  w.embed = s.host_linear("embed.weight");
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const std::string p = fmt::format("layers.{}.", i);
    BackendWeights::Layer l;
    l.hc_attn = read_hc(s, p + "hc_attn_");
    l.hc_ffn = read_hc(s, p + "hc_ffn_");
    l.attn_norm = s.table(p + "attn_norm.weight");
    l.ffn_norm = s.table(p + "ffn_norm.weight");
    l.attn = read_attention(s, c.layers[i], p + "attn.", kv_norm(p + "attn."));
    l.ffn = read_moe(s, c, c.layers[i], p + "ffn.");
    w.layers.push_back(std::move(l));
  }
  w.hc_head = read_hc(s, "hc_head_");
  w.norm = s.table("norm.weight");
  read_head(s, backend, w);
  return w;
}


void expect_shape(const Tensor& t, std::vector<int64_t> shape, const std::string& name) {
  check(t.shape() == shape, "weight {}: expected shape [{}], got [{}]", name, fmt::join(shape, ", "),
        fmt::join(t.shape(), ", "));
}

void check_attention(const Config& c, const LayerSpec& spec, const AttentionWeights& a, const std::string& p) {
  const int64_t hd = c.num_heads * c.head_dim, D = c.hidden_size;
  expect_shape(a.wq_a, {c.q_lora_rank, D}, p + "wq_a");
  expect_shape(a.wq_b, {hd, c.q_lora_rank}, p + "wq_b");
  expect_shape(a.wkv, {c.head_dim, D}, p + "wkv");
  expect_shape(a.wo_a, {c.o_groups * c.o_lora_rank, hd / c.o_groups}, p + "wo_a");
  expect_shape(a.wo_b, {D, c.o_groups * c.o_lora_rank}, p + "wo_b");
  expect_shape(a.sinks, {c.num_heads}, p + "attn_sink");
  const AttentionKind kind = spec.attention();
  check(a.compressor.has_value() == (kind != AttentionKind::kSliding),
        "{}compressor: present on exactly the CSA/HCA layers (compress_ratio {})", p, spec.compress_ratio);
  check(a.indexer.has_value() == (kind == AttentionKind::kCsa), "{}indexer: present on exactly the CSA layers",
        p);
  if (a.compressor) {
    const int64_t w = (kind == AttentionKind::kCsa ? 2 : 1) * c.head_dim;
    expect_shape(a.compressor->wkv, {w, D}, p + "compressor.wkv");
    expect_shape(a.compressor->ape, {spec.compress_ratio, w}, p + "compressor.ape");
  }
  if (a.indexer) {
    expect_shape(a.indexer->wq_b, {c.index_n_heads * c.index_head_dim, c.q_lora_rank}, p + "indexer.wq_b");
    expect_shape(a.indexer->compressor.ape, {spec.compress_ratio, 2 * c.index_head_dim},
                 p + "indexer.compressor.ape");
  }
}

// Host weights are built in code, not read from a validated checkpoint: check every shape once.
void check_host_weights(const Config& c, const ModelWeights& w) {
  check(c.layers.size() == w.layers.size(), "weights have {} layers, config {}", w.layers.size(),
        c.layers.size());
  expect_shape(w.embed, {c.vocab_size, c.hidden_size}, "embed.weight");
  expect_shape(w.head, {c.vocab_size, c.hidden_size}, "head.weight");
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = fmt::format("layers.{}.", i);
    check_attention(c, c.layers[i], l.attn, p + "attn.");
    expect_shape(l.ffn.gate, {c.n_routed_experts, c.hidden_size}, p + "ffn.gate.weight");
    check(static_cast<int64_t>(l.ffn.experts.size()) == c.n_routed_experts, "{}ffn.experts: expected {}, got {}",
          p, c.n_routed_experts, l.ffn.experts.size());
    const bool hash = c.layers[i].routing == MoeRouting::kHash;
    check(!hash || static_cast<int64_t>(l.ffn.tid2eid.size()) == c.vocab_size * c.n_activated_experts,
          "{}ffn.gate.tid2eid: expected [{}, {}]", p, c.vocab_size, c.n_activated_experts);
    for (int32_t e : l.ffn.tid2eid)
      check(e >= 0 && e < c.n_routed_experts, "{}ffn.gate.tid2eid: expert {} out of range", p, e);
  }
}

}  // namespace

BackendWeights upload_weights(const Config& config, const ModelWeights& host, Backend& backend) {
  check_host_weights(config, host);
  backend.check_config(config);
  HostSource s(host, backend);
  BackendWeights w = read_all(s, backend, config, [&](const std::string& p) { return s.table(p + "kv_norm.weight"); });
  w.embed = backend.upload_weight(w.embed, HostMemory::kTransient);
  return w;
}

BackendWeights load_weights(const Checkpoint& checkpoint, Backend& backend, WeightFormat format) {
  const Config& c = checkpoint.config();
  backend.check_config(c);
  CheckpointSource s(checkpoint, backend, format);
  BackendWeights w = read_all(s, backend, c, [&](const std::string& p) {
    return s.table_any({p + "kv_norm.weight", p + "norm.weight"});
  });
  s.finish();
  // The embedding is read a row per token: keep it as stored, on the backend.
  w.embed = backend.upload_weight(w.embed, format == WeightFormat::kStored ? HostMemory::kPersistent
                                                                             : HostMemory::kTransient);
  return w;
}

}  // namespace baleen
