// The CPU backend: dispatches each op's fast kernel over the thread pool; states live in a StateStore.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/compressor.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/hyper_connections.h"
#include "backend/cpu/indexer.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"
#include "backend/cpu/state_store.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace baleen {
namespace {

// Grows `v` to at least n elements (the only allocation, on first use of a larger shape).
template <typename T>
T* scratch(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

constexpr size_t kAlign = 64;

class CpuBackend final : public Backend {
 public:
  CpuBackend(unsigned threads, Communicator* expert_group) : pool_(threads), group_(expert_group) {}
  ~CpuBackend() override {
    for (void* p : owned_) ::operator delete(p, std::align_val_t(kAlign));
  }

  std::string_view name() const override { return "cpu"; }
  bool supports(const WeightView& w) const override { return cpu::matmul_supports(w); }
  void check_config(const Config& c) const override;

  WeightView upload_weight(const WeightView& host, HostMemory lifetime) override;
  const void* upload(const void* host, int64_t bytes) override {
    void* p = allocate(bytes);
    std::memcpy(p, host, static_cast<size_t>(bytes));
    owned_.push_back(p);
    return p;
  }
  void* allocate(int64_t bytes) override {
    return ::operator new(static_cast<size_t>(std::max<int64_t>(bytes, 1)), std::align_val_t(kAlign));
  }
  void release(void* buffer) override { ::operator delete(buffer, std::align_val_t(kAlign)); }
  void download(const void* src, void* host, int64_t bytes) override {
    if (src != host) std::memcpy(host, src, static_cast<size_t>(bytes));
  }

  Step begin_step(const StepInputs& in) override;

  void embed(const int32_t* tokens, const WeightView& table, int64_t streams, MatrixView<float> out) override;
  void matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) override;
  void grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups,
                      MatrixView<float> y) override;
  void matmul_kept_rows(MatrixView<const float> x, const WeightView& packed, const int32_t* kept,
                        const WeightView& dense, MatrixView<float> y) override;
  void rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) override {
    pool_.parallel_for(x.rows, 16,
                       [&](int64_t b, int64_t e) { cpu::rms_norm_rows(x, weight, eps, y, b, e); });
  }
  void rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
            bool inverse) override {
    pool_.parallel_for(
        x.rows, 8, [&](int64_t b, int64_t e) { cpu::rope_rows(x, head_dim, positions, f, inverse, b, e); });
  }
  void hadamard(MatrixView<float> x) override {
    pool_.parallel_for(x.rows, 16, [&](int64_t b, int64_t e) { cpu::hadamard_rows(x, b, e); });
  }
  void kv_round_trip(const KvCodec& codec, MatrixView<float> rows) override {
    if (codec.format() == KvFormat::kF32) return;
    pool_.parallel_for(rows.rows, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) codec.round_trip(rows.row(r));
    });
  }
  void gather_rows(MatrixView<const float> src, const int32_t* rows, MatrixView<float> dst) override {
    for (int64_t i = 0; i < dst.rows; ++i) std::copy(src.row(rows[i]), src.row(rows[i]) + src.cols, dst.row(i));
  }

  void hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
              MatrixView<float> post, MatrixView<float> comb) override {
    pool_.parallel_for(streams.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_pre_rows(streams, p, x, post, comb, b, e); });
  }
  void hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
               MatrixView<const float> streams, MatrixView<float> out) override {
    pool_.parallel_for(y.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_post_rows(y, post, comb, streams, out, b, e); });
  }
  void hc_head(MatrixView<const float> streams, const HyperConnectionParams& p,
               MatrixView<float> y) override {
    pool_.parallel_for(streams.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_head_rows(streams, p, y, b, e); });
  }

  void moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                 const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                 MatrixView<float> weights) override {
    cpu::moe_route_rows(logits, bias, tid2eid, tokens, scaling, experts, weights, 0, logits.rows);
  }
  void moe_experts(MatrixView<const float> x, const MoeRoutes& routes, std::span<const ExpertWeights> experts,
                   const ExpertWeights& shared, float limit, MatrixView<float> out) override;

  void window_append(const Step& step, int64_t layer, MatrixView<const float> kv) override;
  void compressor_append(const Step& step, int64_t layer, const CompressorParams& p, MatrixView<const float> kv,
                         MatrixView<const float> gate) override;
  void indexer_top_k(const Step& step, int64_t layer, MatrixView<const float> q,
                     MatrixView<const float> head_weights, float weight_scale, float scale,
                     MatrixView<int32_t> picks) override;
  void attention(const Step& step, int64_t layer, MatrixView<const float> q, int64_t heads,
                 MatrixView<const float> chunk_kv, MatrixView<const int32_t> picks, const float* sinks,
                 float scale, MatrixView<float> out) override;

  StateId create_state(const StateSpec& spec) override { return states_.create(spec); }
  StateId fork_state(StateId from) override { return states_.fork(from); }
  void free_state(StateId state) override { states_.free(state); }
  StateUsage state_usage(StateId state) const override { return states_.usage(state); }
  int64_t state_memory() const override { return states_.memory(); }
  StateImage export_state(StateId state) const override { return states_.export_state(state); }
  StateId import_state(const StateSpec& spec, const StateImage& image) override {
    return states_.import_state(spec, image);
  }

 private:
  // The sequence's rows of a step-wide matrix.
  static MatrixView<const float> rows_of(MatrixView<const float> m, const StepSequence& s) {
    return m.rows_slice(s.first_row, s.rows);
  }
  // Calls body(sequence, begin, end) on row ranges that lie within one sequence, in parallel.
  template <typename Body>
  void for_sequence_rows(const Step& step, Body&& body);
  // One expert's share of a moe_experts call: members [first, first + n) of members_, routed k to a token.
  struct ExpertTask {
    const ExpertWeights* w;
    int64_t first, n, k;
    const float* weights;  // indexed by member
  };
  struct ExpertScratch {
    MatrixView<float> gathered, gate, up, y;  // a row per member
  };
  void expert_rows(MatrixView<const float> x, const int64_t* members, const ExpertTask& task, float limit,
                   const ExpertScratch& sc, bool split);
  // Runs the tasks' rows (side by side when few) into sc.
  void run_experts(MatrixView<const float> x, const int64_t* members, int64_t most, int64_t tokens, float limit,
                   const ExpertScratch& sc);
  // The routed experts' rows for this rank's tokens, computed on the ranks that own the experts: y row of
  // member t·k + s (unweighted), for every member, in `routed`.
  void routed_on_owners(MatrixView<const float> x, const MoeRoutes& routes, std::span<const ExpertWeights> experts,
                        float limit, MatrixView<float> routed);

  ThreadPool pool_;
  cpu::StateStore states_;
  std::vector<void*> owned_;                    // uploads
  std::vector<int32_t> step_tokens_;
  std::vector<int64_t> step_positions_;
  std::vector<int32_t> step_logit_rows_;
  std::vector<StepSequence> step_sequences_;
  std::vector<float> kept_out_, head_weights_, score_, ones_;
  std::vector<cpu::StoredKeys> keys_;  // per step sequence, in attention()
  std::vector<int32_t> order_;
  std::vector<int64_t> members_;  // (token, slot) pairs, grouped by expert
  std::vector<ExpertTask> tasks_;
  Communicator* group_ = nullptr;  // expert parallelism (null: every expert is here)
  std::vector<float> routed_, received_;
  std::vector<float> gathered_, hidden_gate_, hidden_up_, expert_out_;
  cpu::CompressorScratch compressor_scratch_;
};

void CpuBackend::check_config(const Config& c) const {
  // The CPU kernels keep per-token scratch on the stack, sized by these limits.
  check(c.hc_mult >= 1 && c.hc_mult <= cpu::kMaxStreams, "hc_mult {} outside the supported 1..{} streams",
        c.hc_mult, cpu::kMaxStreams);
  check(c.num_heads <= 1024, "num_heads {} exceeds the supported 1024", c.num_heads);
  check(c.n_routed_experts <= 1024, "n_routed_experts {} exceeds the supported 1024", c.n_routed_experts);
  check(c.head_dim <= cpu::kMaxKeyDim && c.index_head_dim <= cpu::kMaxKeyDim,
        "head_dim {} / index_head_dim {} exceed the supported {}", c.head_dim, c.index_head_dim,
        cpu::kMaxKeyDim);
  check(c.rope_head_dim <= 512, "rope_head_dim {} exceeds the supported 512", c.rope_head_dim);
}

WeightView CpuBackend::upload_weight(const WeightView& host, HostMemory lifetime) {
  check(supports(host), "the cpu backend cannot multiply {} weights with {} scales", dtype_name(host.dtype),
        dtype_name(host.scale_dtype));
  if (lifetime == HostMemory::kPersistent) return host;  // host memory is this backend's memory
  WeightView w = host;
  w.data = upload(host.data, host.bytes());
  if (host.quantized()) w.scales = upload(host.scales, host.scale_bytes());
  return w;
}

Step CpuBackend::begin_step(const StepInputs& in) {
  step_tokens_.assign(in.tokens.begin(), in.tokens.end());
  step_logit_rows_.assign(in.logit_rows.begin(), in.logit_rows.end());
  step_sequences_.assign(in.sequences.begin(), in.sequences.end());
  step_positions_.resize(in.tokens.size());
  for (const StepSequence& s : in.sequences) {
    for (int64_t i = 0; i < s.rows; ++i) step_positions_[static_cast<size_t>(s.first_row + i)] = s.start + i;
  }
  return {static_cast<int64_t>(step_tokens_.size()), step_tokens_.data(),          step_positions_.data(),
          static_cast<int64_t>(step_logit_rows_.size()), step_logit_rows_.data(), step_sequences_};
}

void CpuBackend::embed(const int32_t* tokens, const WeightView& table, int64_t streams, MatrixView<float> out) {
  const int64_t d = table.cols;
  pool_.parallel_for(out.rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      cpu::weight_row(table, tokens[t], out.row(t));
      for (int64_t j = 1; j < streams; ++j) std::copy(out.row(t), out.row(t) + d, out.row(t) + j * d);
    }
  });
}

void CpuBackend::matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) {
  // Columns in multiples of 4 (the kernel's tile) so that threads split whole tiles.
  pool_.parallel_for((w.rows + 3) / 4, 8, [&](int64_t b, int64_t e) {
    cpu::matmul_columns(x, w, y, b * 4, std::min(w.rows, e * 4));
  });
}

void CpuBackend::grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups,
                                MatrixView<float> y) {
  const int64_t out_g = w.rows / groups, in_g = x.cols / groups;
  // Group g's outputs are y's columns [g·out_g, (g+1)·out_g) and read W's rows of the same indices, so each
  // group is a column range of one product over its slice of x (no row slice: a group may start inside a
  // scale block).
  pool_.parallel_for(groups * ((out_g + 3) / 4), 8, [&](int64_t b, int64_t e) {
    const int64_t tiles = (out_g + 3) / 4;
    for (int64_t i = b; i < e; ++i) {
      const int64_t g = i / tiles, o = (i % tiles) * 4;
      MatrixView<const float> xg{x.data + g * in_g, x.rows, in_g, x.stride};
      cpu::matmul_columns(xg, w, y, g * out_g + o, g * out_g + std::min(out_g, o + 4));
    }
  });
}

void CpuBackend::matmul_kept_rows(MatrixView<const float> x, const WeightView& packed, const int32_t* kept,
                                  const WeightView& dense, MatrixView<float> y) {
  MatrixView<float> out{scratch(kept_out_, x.rows * packed.rows), x.rows, packed.rows};
  if (packed.rows > 0) matmul(x, packed, out);
  for (int64_t t = 0; t < x.rows; ++t) {
    const float* xr = x.row(t);
    if (!std::all_of(xr, xr + x.cols, [](float v) { return std::isfinite(v); })) {
      matmul(x.rows_slice(t, 1), dense, y.rows_slice(t, 1));  // inf·0 is NaN: keep the dense bits
      continue;
    }
    float* yr = y.row(t);
    std::fill(yr, yr + y.cols, 0.0f);
    for (int64_t k = 0; k < packed.rows; ++k) yr[kept[k]] = out(t, k);
  }
}

// Tokens are grouped per expert so each expert's weights are read once per call. With many rows an expert's
// matmuls are split across the threads; with few (decode), whole experts run side by side, one thread each.
// Either way every expert's rows are computed alike and added into out in one order (routed experts
// ascending, members in token order, then the shared expert), so the bits do not depend on the split.
void CpuBackend::moe_experts(MatrixView<const float> x, const MoeRoutes& routes,
                             std::span<const ExpertWeights> experts, const ExpertWeights& shared, float limit,
                             MatrixView<float> out) {
  const int64_t tokens = x.rows, k = routes.experts.cols, d = x.cols;
  for (int64_t t = 0; t < tokens; ++t) std::fill(out.row(t), out.row(t) + out.cols, 0.0f);
  if (group_ != nullptr && group_->size() > 1) {
    // Expert parallel: each member's row from its owner, added in the order of the single-device path below.
    MatrixView<float> routed{scratch(routed_, tokens * k * d), tokens * k, d};
    routed_on_owners(x, routes, experts, limit, routed);
    for (size_t e = 0; e < experts.size(); ++e) {
      for (int64_t m = 0; m < tokens * k; ++m) {
        if (routes.experts(m / k, m % k) != static_cast<int32_t>(e)) continue;
        const float weight = routes.weights(m / k, m % k);
        float* o = out.row(m / k);
        for (int64_t c = 0; c < d; ++c) o[c] += weight * routed(m, c);
      }
    }
    experts = {};  // only the shared expert is left to run here
  }
  // The shared expert is one more route of weight 1 for every token: member t of a k = 1 routing.
  int64_t* members = scratch(members_, tokens * k + tokens);
  float* ones = scratch(ones_, tokens);
  tasks_.clear();
  int64_t n = 0, most = 0;
  for (size_t e = 0; e < experts.size(); ++e) {
    const int64_t first = n;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t s = 0; s < k; ++s) {
        if (routes.experts(t, s) == static_cast<int32_t>(e)) members[n++] = t * k + s;
      }
    }
    if (n > first) tasks_.push_back({&experts[e], first, n - first, k, routes.weights.data});
    most = std::max(most, n - first);
  }
  for (int64_t t = 0; t < tokens; ++t) {
    members[n + t] = t;
    ones[t] = 1.0f;
  }
  tasks_.push_back({&shared, n, tokens, 1, ones});
  n += tokens;
  const int64_t f = shared.w1.rows;
  for (const ExpertTask& task : tasks_) check(task.w->w1.rows == f, "moe: experts of different widths");
  const ExpertScratch sc{{scratch(gathered_, n * d), n, d}, {scratch(hidden_gate_, n * f), n, f},
                         {scratch(hidden_up_, n * f), n, f}, {scratch(expert_out_, n * d), n, d}};
  run_experts(x, members, most, tokens, limit, sc);
  for (const ExpertTask& task : tasks_) {
    for (int64_t i = task.first; i < task.first + task.n; ++i) {
      const float weight = task.weights[members[i]];
      float* o = out.row(members[i] / task.k);
      for (int64_t c = 0; c < d; ++c) o[c] += weight * sc.y(i, c);
    }
  }
}

void CpuBackend::run_experts(MatrixView<const float> x, const int64_t* members, int64_t most, int64_t tokens,
                             float limit, const ExpertScratch& sc) {
  constexpr int64_t kSideBySide = 16;  // rows per expert up to which whole experts go to threads
  if (most <= kSideBySide && tokens <= kSideBySide) {
    pool_.parallel_for(static_cast<int64_t>(tasks_.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) expert_rows(x, members, tasks_[static_cast<size_t>(i)], limit, sc, false);
    });
  } else {
    for (const ExpertTask& task : tasks_) expert_rows(x, members, task, limit, sc, true);
  }
}

namespace {

// A dispatched member: its expert, then its token's row.
void put_member(std::vector<uint8_t>& to, int32_t expert, const float* row, int64_t d) {
  const size_t at = to.size();
  to.resize(at + 4 + static_cast<size_t>(d) * 4);
  std::memcpy(to.data() + at, &expert, 4);
  std::memcpy(to.data() + at + 4, row, static_cast<size_t>(d) * 4);
}

}  // namespace

void CpuBackend::routed_on_owners(MatrixView<const float> x, const MoeRoutes& routes,
                                  std::span<const ExpertWeights> experts, float limit, MatrixView<float> routed) {
  const int ranks = group_->size(), me = group_->rank();
  const int64_t tokens = x.rows, k = routes.experts.cols, d = x.cols, count = static_cast<int64_t>(experts.size());
  // Rank r owns experts [r·E/R, (r+1)·E/R): the owner of e is the last r with r·E/R ≤ e.
  const auto owner_of = [&](int64_t e) {
    int r = 0;
    while (r + 1 < ranks && (r + 1) * count / ranks <= e) ++r;
    return r;
  };
  // Dispatch: members in (token, slot) order to their experts' owners.
  std::vector<std::vector<uint8_t>> send(static_cast<size_t>(ranks));
  for (int64_t m = 0; m < tokens * k; ++m) {
    const int32_t e = routes.experts(m / k, m % k);
    check(e >= 0 && e < count, "moe: route to expert {} of {}", e, count);
    put_member(send[static_cast<size_t>(owner_of(e))], e, x.row(m / k), d);
  }
  const std::vector<std::vector<uint8_t>> got = group_->all_to_all(std::move(send));
  // The members other ranks sent here, as rows, grouped by expert (ascending), then run like local ones.
  const size_t record = 4 + static_cast<size_t>(d) * 4;
  int64_t n = 0;
  for (const auto& g : got) n += static_cast<int64_t>(g.size() / record);
  MatrixView<float> rows{scratch(received_, n * d), n, d};
  int64_t* members = scratch(members_, n);
  std::vector<std::pair<int32_t, int64_t>> order;  // (expert, arrival index)
  std::vector<const uint8_t*> arrival;
  for (const auto& g : got) {
    check(g.size() % record == 0, "moe: a dispatch of {} bytes is not whole rows of {}", g.size(), record);
    for (size_t at = 0; at < g.size(); at += record) {
      int32_t e;
      std::memcpy(&e, g.data() + at, 4);
      check(e >= 0 && e < count && owner_of(e) == me, "moe: expert {} dispatched to rank {}", e, me);
      order.push_back({e, static_cast<int64_t>(arrival.size())});
      arrival.push_back(g.data() + at + 4);
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  tasks_.clear();
  int64_t most = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(rows.row(i), arrival[static_cast<size_t>(order[static_cast<size_t>(i)].second)], static_cast<size_t>(d) * 4);
    members[i] = i;
    const int32_t e = order[static_cast<size_t>(i)].first;
    if (tasks_.empty() || tasks_.back().w != &experts[static_cast<size_t>(e)]) {
      tasks_.push_back({&experts[static_cast<size_t>(e)], i, 0, 1, nullptr});
    }
    most = std::max(most, ++tasks_.back().n);
  }
  const int64_t f = experts.empty() ? 0 : experts.front().w1.rows;
  const ExpertScratch sc{{scratch(gathered_, n * d), n, d}, {scratch(hidden_gate_, n * f), n, f},
                         {scratch(hidden_up_, n * f), n, f}, {scratch(expert_out_, n * d), n, d}};
  run_experts(rows, members, most, n, limit, sc);
  // Combine: each arrival's row back to its sender, in the order it came.
  std::vector<std::vector<uint8_t>> reply(static_cast<size_t>(ranks));
  std::vector<int64_t> slot_of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) slot_of[static_cast<size_t>(order[static_cast<size_t>(i)].second)] = i;
  int64_t a = 0;
  for (int r = 0; r < ranks; ++r) {
    const int64_t from_r = static_cast<int64_t>(got[static_cast<size_t>(r)].size() / record);
    std::vector<uint8_t>& to = reply[static_cast<size_t>(r)];
    to.resize(static_cast<size_t>(from_r * d) * 4);
    for (int64_t j = 0; j < from_r; ++j, ++a) {
      std::memcpy(to.data() + static_cast<size_t>(j * d) * 4, sc.y.row(slot_of[static_cast<size_t>(a)]), static_cast<size_t>(d) * 4);
    }
  }
  const std::vector<std::vector<uint8_t>> back = group_->all_to_all(std::move(reply));
  // Members went to each owner in (token, slot) order; their rows come back in that order.
  std::vector<size_t> next(static_cast<size_t>(ranks), 0);
  for (int64_t m = 0; m < tokens * k; ++m) {
    const size_t r = static_cast<size_t>(owner_of(routes.experts(m / k, m % k)));
    check(back[r].size() >= (next[r] + 1) * static_cast<size_t>(d) * 4, "moe: rank {} returned too few rows", r);
    std::memcpy(routed.row(m), back[r].data() + next[r] * static_cast<size_t>(d) * 4, static_cast<size_t>(d) * 4);
    ++next[r];
  }
}

// Rows [first, first + n) of the scratch: expert(x[t]) for each member t·k + s of the task.
void CpuBackend::expert_rows(MatrixView<const float> x, const int64_t* members, const ExpertTask& task,
                             float limit, const ExpertScratch& sc, bool split) {
  const int64_t d = x.cols, f = task.w->w1.rows;
  const auto rows = [&](MatrixView<float> m) { return MatrixView<float>{m.row(task.first), task.n, m.cols}; };
  const MatrixView<float> gx = rows(sc.gathered), hg = rows(sc.gate), hu = rows(sc.up), y = rows(sc.y);
  for (int64_t i = 0; i < task.n; ++i) {
    const float* from = x.row(members[task.first + i] / task.k);
    std::copy(from, from + d, gx.row(i));
  }
  const auto product = [&](MatrixView<const float> in, const WeightView& w, MatrixView<float> o) {
    if (split) {
      matmul(in, w, o);
    } else {
      cpu::matmul_columns(in, w, o, 0, w.rows);
    }
  };
  product(gx, task.w->w1, hg);
  product(gx, task.w->w3, hu);
  for (int64_t i = 0; i < task.n; ++i) cpu::swiglu(hg.row(i), hu.row(i), f, limit);
  product(hg, task.w->w2, y);
}

template <typename Body>
void CpuBackend::for_sequence_rows(const Step& step, Body&& body) {
  const auto& seqs = step.sequences;
  pool_.parallel_for(step.rows, 1, [&](int64_t b, int64_t e) {
    // Sequences are in row order: find the one holding row b, then walk.
    size_t i = static_cast<size_t>(
        std::upper_bound(seqs.begin(), seqs.end(), b,
                         [](int64_t row, const StepSequence& s) { return row < s.first_row + s.rows; }) -
        seqs.begin());
    for (int64_t row = b; row < e && i < seqs.size(); ++i) {
      const int64_t end = std::min(e, seqs[i].first_row + seqs[i].rows);
      if (end > row) body(seqs[i], row, end);
      row = end;
    }
  });
}

void CpuBackend::window_append(const Step& step, int64_t layer, MatrixView<const float> kv) {
  for (const StepSequence& s : step.sequences) {
    cpu::RingRows& ring = states_.get(s.state).layers[static_cast<size_t>(layer)].window;
    // Rows older than the ring would be overwritten within this step: skip them.
    const int64_t skip = std::max<int64_t>(0, s.rows - states_.get(s.state).spec.window);
    ring.set_count(s.start + skip);
    for (int64_t r = skip; r < s.rows; ++r) ring.append(kv.row(s.first_row + r));
  }
}

void CpuBackend::compressor_append(const Step& step, int64_t layer, const CompressorParams& p,
                                   MatrixView<const float> kv, MatrixView<const float> gate) {
  for (const StepSequence& s : step.sequences) {
    cpu::LayerState& l = states_.get(s.state).layers[static_cast<size_t>(layer)];
    cpu::CompressorState& c = p.role == CompressorRole::kMain ? *l.compressor : *l.indexer;
    cpu::compressor_append(pool_, p, rows_of(kv, s), rows_of(gate, s), s.start, c, compressor_scratch_);
  }
}

void CpuBackend::indexer_top_k(const Step& step, int64_t layer, MatrixView<const float> q,
                               MatrixView<const float> head_weights, float weight_scale, float scale,
                               MatrixView<int32_t> picks) {
  // The reference scales the head weights before the scores: the same fp32 products.
  MatrixView<float> w{scratch(head_weights_, head_weights.rows * head_weights.cols), head_weights.rows,
                      head_weights.cols};
  for (int64_t t = 0; t < w.rows; ++t) {
    for (int64_t h = 0; h < w.cols; ++h) w(t, h) = head_weights(t, h) * weight_scale;
  }
  int64_t most = 1;
  for (const StepSequence& s : step.sequences) {
    most = std::max(most, states_.get(s.state).layers[static_cast<size_t>(layer)].indexer->entries.count());
  }
  const int64_t parts = pool_.size();
  if (step.rows < parts) {  // decode: too few rows to share out, so each row's entries are split instead
    float* score = scratch(score_, most);
    int32_t* order = scratch(order_, most);
    for (const StepSequence& s : step.sequences) {
      const cpu::CompressorState& c = *states_.get(s.state).layers[static_cast<size_t>(layer)].indexer;
      const cpu::StoredRows keys{&c.entries};
      for (int64_t t = s.first_row; t < s.first_row + s.rows; ++t) {
        const int64_t visible = cpu::visible_entries(step.positions[t], c.spec.ratio, keys.count());
        pool_.parallel_for(visible, 256, [&](int64_t b, int64_t e) {
          cpu::indexer_scores(q, w, keys, t, scale, b, e, score);
        });
        cpu::top_k_picks(score, order, visible, picks.row(t), picks.cols);
      }
    }
    return;
  }
  float* score = scratch(score_, parts * cpu::kIndexerRowTile * most);
  int32_t* order = scratch(order_, parts * most);
  pool_.parallel_for(parts, 1, [&](int64_t pb, int64_t pe) {
    for (int64_t part = pb; part < pe; ++part) {
      const int64_t t0 = step.rows * part / parts, t1 = step.rows * (part + 1) / parts;
      for (const StepSequence& s : step.sequences) {
        const int64_t b = std::max(t0, s.first_row), e = std::min(t1, s.first_row + s.rows);
        if (b >= e) continue;
        const cpu::CompressorState& c = *states_.get(s.state).layers[static_cast<size_t>(layer)].indexer;
        const size_t n = static_cast<size_t>(cpu::kIndexerRowTile * most);
        cpu::indexer_top_k_rows(q, w, cpu::StoredRows{&c.entries}, step.positions, c.spec.ratio, scale, picks,
                                {score + part * static_cast<int64_t>(n), n},
                                {order + part * most, static_cast<size_t>(most)}, b, e);
      }
    }
  });
}

void CpuBackend::attention(const Step& step, int64_t layer, MatrixView<const float> q, int64_t heads,
                           MatrixView<const float> chunk_kv, MatrixView<const int32_t> picks, const float* sinks,
                           float scale, MatrixView<float> out) {
  std::vector<cpu::StoredKeys>& keys = keys_;
  keys.clear();
  for (const StepSequence& s : step.sequences) {
    const cpu::SessionRecord& r = states_.get(s.state);
    const cpu::LayerState& l = r.layers[static_cast<size_t>(layer)];
    cpu::StoredKeys k{&l.window, rows_of(chunk_kv, s), s.start, r.spec.window, nullptr, 0, picks};
    if (l.compressor) {
      k.entries = &l.compressor->entries;
      k.ratio = l.compressor->spec.ratio;
    }
    keys.push_back(k);
  }
  const auto& seqs = step.sequences;
  if (step.rows >= static_cast<int64_t>(pool_.size())) {
    for_sequence_rows(step, [&](const StepSequence& s, int64_t b, int64_t e) {
      const size_t i = static_cast<size_t>(&s - seqs.data());
      cpu::attention_rows(q, heads, keys[i], step.positions, sinks, scale, out, b, e, 0, heads);
    });
  } else {  // decode: split the heads instead
    pool_.parallel_for(heads, 1, [&](int64_t b, int64_t e) {
      for (size_t i = 0; i < seqs.size(); ++i) {
        cpu::attention_rows(q, heads, keys[i], step.positions, sinks, scale, out, seqs[i].first_row,
                            seqs[i].first_row + seqs[i].rows, b, e);
      }
    });
  }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(unsigned threads, Communicator* expert_group) {
  return std::make_unique<CpuBackend>(threads, expert_group);
}

}  // namespace baleen
