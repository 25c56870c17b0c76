#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/cuda/device_memory.h"
#include "backend/cuda/device_state.h"
#include "backend/cuda/op_profile.h"
#include "backend/cuda/session_kernels.h"
#include "backend/cuda/token_ops.h"
#include "backend/cuda/weight_matmul.h"
#include "core/error.h"

namespace baleen {
namespace {

using cuda::DeviceBuffer;
using cuda::check_cuda;

cuda::DeviceWeight device_weight(const WeightView& w) {
  cuda::DeviceWeight d;
  d.dtype = static_cast<int>(w.dtype);
  d.scale_dtype = static_cast<int>(w.scale_dtype);
  d.data = w.data;
  d.scales = w.scales;
  d.rows = w.rows;
  d.cols = w.cols;
  if (w.quantized()) {
    d.block_rows = w.block_rows;
    d.block_cols = w.block_cols;
    d.scale_cols = w.scale_cols();
  }
  return d;
}

// Grows `b` to hold n T's and returns it typed.
template <typename T>
T* scratch(DeviceBuffer& b, int64_t n) {
  b.reserve(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T));
  return b.get<T>();
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    int count = 0;
    check(cudaGetDeviceCount(&count) == cudaSuccess && count > 0, "--backend cuda: no CUDA device is present");
    check(device >= 0 && device < count, "--backend cuda: device {} of {}", device, count);
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    queue_ = std::make_unique<cuda::DeviceQueue>(stream_);
    states_ = std::make_unique<cuda::DeviceStateStore>(*queue_);
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    states_.reset();
    queue_.reset();
    expert_tables_.clear();
    owned_.clear();
    cudaStreamDestroy(stream_);
  }

  std::string_view name() const override { return "cuda"; }
  bool supports(const WeightView& w) const override;
  void check_config(const Config& c) const override;

  WeightView upload_weight(const WeightView& host, HostMemory lifetime) override;
  const void* upload(const void* host, int64_t bytes) override {
    owned_.emplace_back(static_cast<size_t>(bytes));
    queue_->upload(owned_.back().get(), host, static_cast<size_t>(bytes));
    return owned_.back().get();
  }
  void* allocate(int64_t bytes) override {
    void* p = nullptr;
    check_cuda(cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(bytes, 1))), "cudaMalloc");
    return p;
  }
  void release(void* buffer) override {
    cudaStreamSynchronize(stream_);
    cudaFree(buffer);
  }
  void download(const void* src, void* host, int64_t bytes) override {
    check_cuda(cudaMemcpyAsync(host, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, stream_), "download");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    profile_.harvest();
    throw_pending();
  }

  Step begin_step(const StepInputs& in) override;

  void embed(const int32_t* tokens, const WeightView& table, int64_t streams, MatrixView<float> out) override {
    launched(cuda::embed(tokens, table, streams, out, stream_), "embed");
  }
  void matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) override {
    launched(cuda::weight_matmul(x.data, x.stride, x.rows, device_weight(w), 1, y.data, y.stride, stream_), "matmul");
  }
  void grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups, MatrixView<float> y) override {
    launched(cuda::weight_matmul(x.data, x.stride, x.rows, device_weight(w), groups, y.data, y.stride, stream_),
             "grouped_matmul");
  }
  // The kept rows' product scattered among the zero rows' values: the dense product's bits (a row's
  // products do not depend on which other rows are computed).
  void matmul_kept_rows(MatrixView<const float> x, const WeightView& packed, const int32_t* kept,
                        const WeightView& dense, MatrixView<float> y) override {
    float* p = scratch<float>(kept_out_, x.rows * packed.rows);
    if (packed.rows > 0) {
      launched(cuda::weight_matmul(x.data, x.stride, x.rows, device_weight(packed), 1, p, packed.rows, stream_),
               "matmul_kept_rows");
    }
    launched(cuda::scatter_kept_rows(p, packed.rows, packed.rows, kept, x.data, x.stride, x.cols, x.rows, y.data,
                                     y.stride, dense.rows, stream_),
             "matmul_kept_rows scatter");
  }
  void rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) override {
    launched(cuda::rms_norm(x, weight, eps, y, stream_), "rms_norm");
  }
  void rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
            bool inverse) override {
    launched(cuda::rope(x, head_dim, positions, f, inverse, stream_), "rope");
  }
  void hadamard(MatrixView<float> x) override { launched(cuda::hadamard(x, stream_), "hadamard"); }
  void kv_round_trip(const KvCodec& codec, MatrixView<float> rows) override {
    launched(cuda::kv_round_trip(codec, rows, stream_), "kv_round_trip");
  }
  void gather_rows(MatrixView<const float> src, const int32_t* rows, MatrixView<float> dst) override {
    launched(cuda::gather_rows(src, rows, dst, stream_), "gather_rows");
  }
  void hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
              MatrixView<float> post, MatrixView<float> comb) override {
    launched(cuda::hc_pre(streams, p, x, post, comb, stream_), "hc_pre");
  }
  void hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
               MatrixView<const float> streams, MatrixView<float> out) override {
    launched(cuda::hc_post(y, post, comb, streams, out, stream_), "hc_post");
  }
  void hc_head(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y) override {
    launched(cuda::hc_head(streams, p, y, stream_), "hc_head");
  }
  void moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid, const int32_t* tokens,
                 float scaling, MatrixView<int32_t> experts, MatrixView<float> weights) override {
    launched(cuda::moe_route(logits, bias, tid2eid, tokens, scaling, experts, weights, stream_), "moe_route");
  }
  void moe_experts(MatrixView<const float> x, const MoeRoutes& routes, std::span<const ExpertWeights> experts,
                   const ExpertWeights& shared, float limit, MatrixView<float> out) override;

  void window_append(const Step& step, int64_t layer, MatrixView<const float> kv) override;
  void compressor_append(const Step& step, int64_t layer, const CompressorParams& p, MatrixView<const float> kv,
                         MatrixView<const float> gate) override;
  void indexer_top_k(const Step& step, int64_t layer, MatrixView<const float> q, MatrixView<const float> head_weights,
                     float weight_scale, float scale, MatrixView<int32_t> picks) override;
  void attention(const Step& step, int64_t layer, MatrixView<const float> q, int64_t heads,
                 MatrixView<const float> chunk_kv, MatrixView<const int32_t> picks, const float* sinks, float scale,
                 MatrixView<float> out) override;

  StateId create_state(const StateSpec& spec) override { return states_->create(spec); }
  StateId fork_state(StateId from) override { return states_->fork(from); }
  void free_state(StateId state) override { states_->free(state); }
  StateUsage state_usage(StateId state) const override { return states_->usage(state); }
  int64_t state_memory() const override { return states_->memory(); }
  StateImage export_state(StateId state) const override {
    throw_pending();
    return states_->export_state(state);
  }
  StateId import_state(const StateSpec& spec, const StateImage& image) override {
    return states_->import_state(spec, image);
  }

 private:
  // Ops never throw: the first failed launch is kept for the next call that waits for the device.
  void launched(cudaError_t status, const char* op) {
    if (status != cudaSuccess && pending_.empty()) pending_ = fmt::format("cuda: {}: {}", op, cudaGetErrorString(status));
    profile_.mark(op, stream_);
  }
  void throw_pending() const {
    if (!pending_.empty()) throw Error(pending_);
  }
  // Uploads the step sequences' keys of `layer` (role: the main compressor's entries or the indexer's).
  const cuda::SequenceKeys* sequence_keys(const Step& step, int64_t layer, MatrixView<const float> chunk,
                                          CompressorRole role);
  const cuda::DeviceExperts& expert_table(std::span<const ExpertWeights> experts, const ExpertWeights& shared);

  int device_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::DeviceQueue> queue_;
  std::unique_ptr<cuda::DeviceStateStore> states_;
  std::vector<DeviceBuffer> owned_;  // uploads and weights
  std::string pending_;
  cuda::OpProfile profile_;
  // Step inputs.
  std::vector<int64_t> positions_;
  std::vector<int32_t> row_sequence_;
  std::vector<StepSequence> sequences_;
  DeviceBuffer step_tokens_, step_positions_, step_logit_rows_, step_row_sequence_;
  // Op scratch.
  std::vector<cuda::SequenceKeys> keys_;
  DeviceBuffer partials_, kept_out_, keys_device_, head_weights_, indexer_scratch_, expert_scratch_, entries_, entry_positions_;
  struct ExpertTable {
    DeviceBuffer weights;  // w1[E], w2[E], w3[E]
    cuda::DeviceExperts experts;
    const void* first;
  };
  std::unordered_map<const ExpertWeights*, ExpertTable> expert_tables_;
};

bool CudaBackend::supports(const WeightView& w) const {
  return stored_format(w) && (w.dtype != DType::kF4E2M1x2 || w.cols % 2 == 0);  // whole bytes a row
}

void CudaBackend::check_config(const Config& c) const {
  check(c.head_dim <= 512, "head_dim {} exceeds the cuda backend's 512", c.head_dim);
  check(c.index_n_heads * c.index_head_dim <= 32768, "index heads × dim {} exceed the cuda backend's 32768",
        c.index_n_heads * c.index_head_dim);
  check(c.n_activated_experts <= 16, "n_activated_experts {} exceeds the cuda backend's 16", c.n_activated_experts);
  check(c.n_shared_experts == 1, "n_shared_experts {}: the cuda backend runs exactly one", c.n_shared_experts);
  check(c.index_topk <= 1024, "index_topk {} exceeds the cuda backend's 1024", c.index_topk);
  check(c.hc_mult >= 1 && c.hc_mult <= 8, "hc_mult {} outside the cuda backend's 1..8", c.hc_mult);
  check(c.n_routed_experts <= 1024, "n_routed_experts {} exceeds the cuda backend's 1024", c.n_routed_experts);
}

WeightView CudaBackend::upload_weight(const WeightView& host, HostMemory) {
  check(supports(host), "the cuda backend cannot multiply {} weights with {} scales", dtype_name(host.dtype),
        dtype_name(host.scale_dtype));
  WeightView w = host;
  w.data = upload(host.data, host.bytes());
  if (host.quantized()) w.scales = upload(host.scales, host.scale_bytes());
  return w;
}

Step CudaBackend::begin_step(const StepInputs& in) {
  const auto rows = static_cast<int64_t>(in.tokens.size());
  sequences_.assign(in.sequences.begin(), in.sequences.end());
  positions_.assign(static_cast<size_t>(rows), 0);
  row_sequence_.assign(static_cast<size_t>(rows), 0);
  for (size_t i = 0; i < sequences_.size(); ++i) {
    const StepSequence& s = sequences_[i];
    for (int64_t r = 0; r < s.rows; ++r) {
      positions_[static_cast<size_t>(s.first_row + r)] = s.start + r;
      row_sequence_[static_cast<size_t>(s.first_row + r)] = static_cast<int32_t>(i);
    }
  }
  queue_->reset();  // the previous step's staged inputs are consumed
  profile_.harvest();
  profile_.phase(rows == static_cast<int64_t>(sequences_.size()) ? "decode" : "prefill");
  const auto put = [&](DeviceBuffer& b, const void* host, size_t bytes) {
    b.reserve(std::max<size_t>(bytes, 8));
    queue_->upload(b.get(), host, bytes);
  };
  put(step_tokens_, in.tokens.data(), in.tokens.size_bytes());
  put(step_positions_, positions_.data(), positions_.size() * 8);
  put(step_logit_rows_, in.logit_rows.data(), in.logit_rows.size_bytes());
  put(step_row_sequence_, row_sequence_.data(), row_sequence_.size() * 4);
  profile_.mark("step inputs", stream_);
  return {rows,
          step_tokens_.get<const int32_t>(),
          step_positions_.get<const int64_t>(),
          static_cast<int64_t>(in.logit_rows.size()),
          step_logit_rows_.get<const int32_t>(),
          sequences_};
}

const cuda::DeviceExperts& CudaBackend::expert_table(std::span<const ExpertWeights> experts,
                                                     const ExpertWeights& shared) {
  // Keyed by the span, checked against its first weight (a later model may reuse the address).
  const void* first = experts.empty() ? shared.w1.data : experts.front().w1.data;
  auto it = expert_tables_.find(experts.data());
  if (it != expert_tables_.end() && it->second.experts.experts == static_cast<int64_t>(experts.size()) &&
      it->second.first == first) {
    return it->second.experts;
  }
  const size_t n = experts.size();
  std::vector<cuda::DeviceWeight> host(3 * n);
  for (size_t e = 0; e < n; ++e) {
    host[e] = device_weight(experts[e].w1);
    host[n + e] = device_weight(experts[e].w2);
    host[2 * n + e] = device_weight(experts[e].w3);
  }
  ExpertTable t{DeviceBuffer(std::max<size_t>(host.size(), 1) * sizeof(cuda::DeviceWeight)), {}, first};
  queue_->upload(t.weights.get(), host.data(), host.size() * sizeof(cuda::DeviceWeight));
  const auto* base = t.weights.get<const cuda::DeviceWeight>();
  t.experts = {base, base + n, base + 2 * n, static_cast<int64_t>(n), device_weight(shared.w1),
               device_weight(shared.w2), device_weight(shared.w3), shared.w1.cols, shared.w1.rows};
  return (expert_tables_[experts.data()] = std::move(t)).experts;
}

void CudaBackend::moe_experts(MatrixView<const float> x, const MoeRoutes& routes, std::span<const ExpertWeights> experts,
                              const ExpertWeights& shared, float limit, MatrixView<float> out) {
  const cuda::DeviceExperts& e = expert_table(experts, shared);
  const int64_t k = routes.experts.cols;
  if (routes.experts.stride != k || routes.weights.stride != k) {
    launched(cudaErrorInvalidValue, "moe_experts: routes with a row stride");
    return;
  }
  float* sc = scratch<float>(expert_scratch_, cuda::expert_mix_scratch_floats(x.rows, k, e));
  launched(cuda::expert_mix(x.data, x.stride, x.rows, routes.experts.data, routes.weights.data, k, e, limit, sc,
                            out.data, out.stride, stream_),
           "moe_experts");
}

void CudaBackend::window_append(const Step& step, int64_t layer, MatrixView<const float> kv) {
  for (const StepSequence& s : step.sequences) {
    cuda::DeviceRing& ring = states_->get(s.state).layers[static_cast<size_t>(layer)].window;
    const int64_t window = ring.layout.rows, skip = std::max<int64_t>(0, s.rows - window);
    launched(cuda::ring_append(cuda::device_codec(ring.layout.codec), kv.row(s.first_row), kv.stride, s.rows, skip,
                               s.start, ring.bytes.get<uint8_t>(), window, stream_),
             "window_append");
    ring.count = s.start + s.rows;
  }
}

void CudaBackend::compressor_append(const Step& step, int64_t layer, const CompressorParams& p,
                                    MatrixView<const float> kv, MatrixView<const float> gate) {
  for (const StepSequence& s : step.sequences) {
    cuda::DeviceLayerState& l = states_->get(s.state).layers[static_cast<size_t>(layer)];
    cuda::DeviceCompressor& c = p.role == CompressorRole::kMain ? *l.compressor : *l.indexer;
    const int64_t m = c.spec.ratio, dim = c.spec.dim;
    cuda::CompressorLaunch cl;
    cl.ratio = m, cl.dim = dim, cl.width = c.width;
    cl.overlap = c.spec.overlap, cl.has_overlap = c.has_overlap;
    cl.tail_kv = c.tail_kv.get<float>(), cl.tail_gate = c.tail_gate.get<float>(), cl.tail_rows = c.tail_rows;
    cl.overlap_kv = c.overlap_kv.get<float>(), cl.overlap_gate = c.overlap_gate.get<float>();
    cl.kv = kv.row(s.first_row), cl.ld_kv = kv.stride;
    cl.gate = gate.row(s.first_row), cl.ld_gate = gate.stride;
    cl.rows = s.rows, cl.start = s.start, cl.ape = p.ape;
    const int64_t windows = (c.tail_rows + s.rows) / m;
    if (windows > 0) {
      MatrixView<float> entries{scratch<float>(entries_, windows * dim), windows, dim};
      int64_t* positions = scratch<int64_t>(entry_positions_, windows);
      const int64_t first = c.entries->count();
      launched(cuda::compressor_pool(cl, windows, entries.data, stream_), "compressor pool");
      launched(cuda::rms_norm(entries, p.norm, p.eps, entries, stream_), "compressor norm");
      launched(cuda::entry_positions(first, windows, m, positions, stream_), "compressor positions");
      launched(cuda::rope(entries, dim, positions, p.rope, false, stream_), "compressor rope");
      if (p.rotate) launched(cuda::hadamard(entries, stream_), "compressor hadamard");
      c.entries->grow_to(first + windows, *queue_);
      launched(cuda::store_rows(entries.data, windows, dim, c.entries->ref(), first, stream_), "compressor store");
    }
    launched(cuda::compressor_keep_tail(cl, windows, stream_), "compressor tail");
    c.tail_rows = c.tail_rows + s.rows - windows * m;
    if (windows > 0 && c.spec.overlap) c.has_overlap = true;
  }
}

const cuda::SequenceKeys* CudaBackend::sequence_keys(const Step& step, int64_t layer, MatrixView<const float> chunk,
                                                     CompressorRole role) {
  keys_.clear();
  for (const StepSequence& s : step.sequences) {
    const cuda::DeviceSession& session = states_->get(s.state);
    const cuda::DeviceLayerState& l = session.layers[static_cast<size_t>(layer)];
    cuda::SequenceKeys k;
    k.ring = l.window.ref();
    k.window = l.window.layout.rows;
    if (chunk.data != nullptr) k.chunk = chunk.row(s.first_row), k.ld_chunk = chunk.stride;
    k.start = s.start;
    const auto& c = role == CompressorRole::kMain ? l.compressor : l.indexer;
    if (c) {
      k.entries = c->entries->ref();
      k.entry_count = c->entries->count();
      k.ratio = c->spec.ratio;
    }
    keys_.push_back(k);
  }
  const size_t bytes = keys_.size() * sizeof(cuda::SequenceKeys);
  // Queued behind the kernels that read the previous keys, so one buffer serves every call.
  keys_device_.reserve(bytes);
  queue_->upload(keys_device_.get(), keys_.data(), bytes);
  return keys_device_.get<const cuda::SequenceKeys>();
}

void CudaBackend::indexer_top_k(const Step& step, int64_t layer, MatrixView<const float> q,
                                MatrixView<const float> head_weights, float weight_scale, float scale,
                                MatrixView<int32_t> picks) {
  const int64_t heads = head_weights.cols;
  float* w = scratch<float>(head_weights_, head_weights.rows * heads);
  launched(cuda::scale_rows(head_weights.data, head_weights.stride, head_weights.rows, heads, weight_scale, w, heads,
                            stream_),
           "indexer weights");
  int64_t most = 0;
  for (const StepSequence& s : step.sequences) {
    most = std::max(most, states_->get(s.state).layers[static_cast<size_t>(layer)].indexer->entries->count());
  }
  cuda::IndexerLaunch a;
  a.q = q.data, a.ldq = q.stride, a.rows = q.rows, a.heads = heads, a.dim = q.cols / heads;
  a.head_weights = w, a.ldw = heads;
  a.sequences = sequence_keys(step, layer, {}, CompressorRole::kIndexer);
  if (!keys_.empty()) a.keys = keys_.front().entries.codec;
  a.row_sequence = step_row_sequence_.get<const int32_t>();
  a.positions = step.positions;
  a.scale = scale, a.most = most;
  a.picks = picks.data, a.ld_picks = picks.stride, a.k = picks.cols;
  const size_t bytes = most > 0 ? cuda::indexer_scratch_bytes(a.rows, most) : 0;
  indexer_scratch_.reserve(std::max<size_t>(bytes, 8));
  launched(cuda::session_indexer(a, indexer_scratch_.get(), indexer_scratch_.bytes(), stream_), "indexer_top_k");
}

void CudaBackend::attention(const Step& step, int64_t layer, MatrixView<const float> q, int64_t heads,
                            MatrixView<const float> chunk_kv, MatrixView<const int32_t> picks, const float* sinks,
                            float scale, MatrixView<float> out) {
  cuda::AttentionLaunch a;
  a.q = q.data, a.ldq = q.stride, a.rows = q.rows, a.heads = heads, a.head_dim = q.cols / heads;
  a.sequences = sequence_keys(step, layer, chunk_kv, CompressorRole::kMain);
  a.row_sequence = step_row_sequence_.get<const int32_t>();
  a.positions = step.positions;
  if (picks.rows > 0) a.picks = picks.data, a.ld_picks = picks.stride, a.pick_cols = picks.cols;
  a.sinks = sinks, a.scale = scale;
  a.out = out.data, a.ldo = out.stride;
  // The most keys any query has, an upper bound from each sequence: its window and its entries.
  int64_t most = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    const cuda::SequenceKeys& k = keys_[i];
    const int64_t entries = k.ratio == 0 ? 0 : picks.rows > 0 ? picks.cols : k.entry_count;
    most = std::max(most, std::min(k.window, k.start + step.sequences[i].rows) + entries);
  }
  a.tensor_cores = cuda::paper_attention_fits(keys_.data(), static_cast<int64_t>(keys_.size()), heads, a.head_dim);
  a.splits = cuda::attention_splits(most, a.tensor_cores);
  // Partials for at most ~512 MB at a time: long prefill chunks go in row groups (a row's bits stay its own).
  const int64_t per_row = cuda::attention_partials_floats(1, heads, a.head_dim, a.splits, a.tensor_cores) * 4;
  const int64_t group = per_row == 0 ? q.rows : std::max<int64_t>(1, (int64_t{512} << 20) / per_row);
  a.partials = scratch<float>(partials_, cuda::attention_partials_floats(std::min(group, q.rows), heads, a.head_dim,
                                                                         a.splits, a.tensor_cores));
  for (int64_t r = 0; r < q.rows; r += group) {
    cuda::AttentionLaunch part = a;
    part.rows = std::min(group, q.rows - r);
    part.q = q.row(r), part.out = out.row(r);
    part.row_sequence = a.row_sequence + r, part.positions = a.positions + r;
    if (a.picks) part.picks = a.picks + r * a.ld_picks;
    launched(cuda::session_attention(part, stream_), "attention");
  }
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device) {
  return std::make_unique<CudaBackend>(device);
}

}  // namespace baleen
