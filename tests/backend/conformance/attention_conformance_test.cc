// The session ops through a backend's own state against the float64 truth. A sequence prefills a chunk
// longer than its window, then decodes token by token: window attention with fp32 rows and with the paper's
// 584-byte FP8 + bf16-rope rows (a query sees earlier rows as stored, its own step's rows as given); and a
// CSA layer in V4-Flash's formats — the main compressor's FP8 entries, the indexer's FP4 keys, its top-k and
// attention over window + picks. The entries the truth reads are the backend's own, exported.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "../cpu/random_inputs.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/indexer.h"
#include "backend_under_test.h"

namespace baleen::test {
namespace {

class SessionOps : public BackendUnderTest {
 protected:
  void csa_case(int64_t heads);  // a CSA layer's prefill and decode with `heads` query heads
};
BALEEN_FOR_EVERY_BACKEND(SessionOps);

TEST_P(SessionOps, WindowAttentionOverPrefillThenDecodeMatchesTheTruth) {
  std::mt19937 rng(41);
  const int64_t window = 8, heads = 16, prefill = 11, decode = 3, total = prefill + decode;
  for (const KvCodec& codec : {KvCodec(KvFormat::kF32, 64, 0), KvCodec(KvFormat::kFp8Rope, 512, 64)}) {
    const int64_t d = codec.dim();
    StateSpec spec;
    spec.window = window;
    spec.layers.push_back({codec, {}, {}});
    const StateId state = backend().create_state(spec);
    Tensor kv = random_tensor({total, d}, rng), sinks = random_tensor({heads}, rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    Tensor stored = kv;  // row p as the ring gives it back once stored
    for (int64_t p = 0; p < total; ++p) codec.round_trip(stored.matrix().row(p));
    const float* sinks_device = table(sinks);
    for (int64_t start = 0; start < total;) {
      const int64_t n = start == 0 ? prefill : 1;
      const Step step = begin_step(state, start, n);
      Tensor q = random_tensor({n, heads * d}, rng);
      const MatrixView<float> chunk = copy_in(kv.matrix().rows_slice(start, n));
      MatrixView<float> out = rows(n, heads * d);
      backend().attention(step, 0, copy_in(q), heads, chunk, {}, sinks_device, scale, out);
      backend().window_append(step, 0, chunk);

      Tensor keys({start + n, d});  // positions 0 … start + n − 1
      for (int64_t p = 0; p < start + n; ++p) {
        const Tensor& from = p < start ? stored : kv;
        std::copy(from.matrix().row(p), from.matrix().row(p) + d, keys.matrix().row(p));
      }
      std::vector<int64_t> positions(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = start + i;
      Tensor truth({n, heads * d});
      cpu::attention_reference(q.matrix(), heads, {keys.matrix(), 0, window, {}, 0, {}}, positions.data(),
                               sinks.data(), scale, truth.matrix());
      EXPECT_LT(relative_l2(copy_out(out), truth), 1e-5)
          << "format " << static_cast<int>(codec.format()) << ", step at position " << start;
      start += n;
    }
    EXPECT_EQ(backend().state_usage(state).bytes > 0, true);
    backend().free_state(state);
  }
}

// Rows [count, codec.dim()] decoded from an exported compressor's stored rows.
Tensor decoded_entries(const KvCodec& codec, const CompressorImage& image) {
  Tensor rows({image.entries, codec.dim()});
  for (int64_t e = 0; e < image.entries; ++e) {
    const uint8_t* row = image.rows.data() + e * codec.row_bytes();
    codec.decode(row, row + codec.data_bytes(), rows.matrix().row(e));
  }
  return rows;
}

// 4 heads take the CUDA backend's general kernel, 16 its tensor-core kernel (paper_attention.cu).
TEST_P(SessionOps, CsaIndexerPicksAndAttentionOverThemMatchTheTruth) {
  for (const int64_t heads : {4, 16}) {
    SCOPED_TRACE(heads);
    csa_case(heads);
  }
}

void SessionOps::csa_case(int64_t heads) {
  std::mt19937 rng(43);
  const int64_t window = 8, ratio = 4, d = 512, rope = 64, index_heads = 8, di = 128, k = 5;
  const int64_t prefill = 40, decode = 6, total = prefill + decode;
  const KvCodec rows_codec(KvFormat::kFp8Rope, d, rope), keys_codec(KvFormat::kFp4, di, 0);
  StateSpec spec;
  spec.window = window;
  spec.layers.push_back({rows_codec, {ratio, d, true, rows_codec}, {ratio, di, true, keys_codec}});
  const StateId state = backend().create_state(spec);

  std::vector<float> inv_freq(rope / 2);
  for (int64_t i = 0; i < rope / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / rope);
  const RopeFrequencies freq{table(inv_freq), rope};
  auto params = [&](CompressorRole role, int64_t dim, bool rotate) {
    Tensor ape = random_tensor({ratio, 2 * dim}, rng, 0.5f), norm = random_tensor({dim}, rng, 0.3f);
    for (float& v : norm.values()) v += 1.0f;
    return Backend::CompressorParams{role, table(ape), table(norm), freq, 1e-6f, rotate};
  };
  const Backend::CompressorParams main = params(CompressorRole::kMain, d, false),
                                  indexer = params(CompressorRole::kIndexer, di, true);
  Tensor kv = random_tensor({total, d}, rng), sinks = random_tensor({heads}, rng);
  Tensor stored = kv;
  for (int64_t p = 0; p < total; ++p) rows_codec.round_trip(stored.matrix().row(p));
  const float* sinks_device = table(sinks);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d)), index_scale = 1.0f / std::sqrt(static_cast<float>(di)),
              weight_scale = 1.0f / std::sqrt(static_cast<float>(index_heads));
  int64_t checked_picks = 0;
  for (int64_t start = 0; start < total;) {
    const int64_t n = start == 0 ? prefill : 1;
    const Step step = begin_step(state, start, n);
    backend().compressor_append(step, 0, main, copy_in(random_tensor({n, 2 * d}, rng)),
                                copy_in(random_tensor({n, 2 * d}, rng)));
    backend().compressor_append(step, 0, indexer, copy_in(random_tensor({n, 2 * di}, rng)),
                                copy_in(random_tensor({n, 2 * di}, rng)));
    Tensor qi = random_tensor({n, index_heads * di}, rng), w = random_tensor({n, index_heads}, rng);
    MatrixView<int32_t> picks = int_rows(n, k);
    backend().indexer_top_k(step, 0, copy_in(qi), copy_in(w), weight_scale, index_scale, picks);
    Tensor q = random_tensor({n, heads * d}, rng);
    const MatrixView<float> chunk = copy_in(kv.matrix().rows_slice(start, n));
    MatrixView<float> out = rows(n, heads * d);
    backend().attention(step, 0, copy_in(q), heads, chunk, picks, sinks_device, scale, out);
    backend().window_append(step, 0, chunk);

    const StateImage image = backend().export_state(state);
    const Tensor entries = decoded_entries(rows_codec, image.layers[0].compressor);
    const Tensor keys = decoded_entries(keys_codec, image.layers[0].indexer);
    EXPECT_EQ(entries.dim(0), (start + n) / ratio);
    std::vector<int64_t> positions(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = start + i;
    Tensor scaled_w = w;
    for (float& v : scaled_w.values()) v *= weight_scale;
    Tensor scores({n, std::max<int64_t>(keys.dim(0), 1)});
    std::vector<int32_t> want_picks(static_cast<size_t>(n * k));
    cpu::indexer_top_k_reference(qi.matrix(), scaled_w.matrix(), keys.matrix(), positions.data(), ratio, index_scale,
                                 scores.matrix(), {want_picks.data(), n, k});
    const std::vector<int32_t> got_picks = copy_out(MatrixView<const int32_t>(picks));
    EXPECT_EQ(got_picks, want_picks) << "step at position " << start;
    for (int32_t p : got_picks) checked_picks += p >= 0;

    Tensor window_keys({start + n, d});
    for (int64_t p = 0; p < start + n; ++p) {
      const Tensor& from = p < start ? stored : kv;
      std::copy(from.matrix().row(p), from.matrix().row(p) + d, window_keys.matrix().row(p));
    }
    Tensor truth({n, heads * d});
    cpu::attention_reference(q.matrix(), heads,
                             {window_keys.matrix(), 0, window, entries.matrix(), ratio, {got_picks.data(), n, k}},
                             positions.data(), sinks.data(), scale, truth.matrix());
    EXPECT_LT(relative_l2(copy_out(out), truth), 1e-5) << "step at position " << start;
    start += n;
  }
  EXPECT_GT(checked_picks, 100);  // most queries see more than k entries
  backend().free_state(state);
}

TEST_P(SessionOps, IndexerAtFlashShapesPicksTheCpuBackendsEntries) {
  // V4-Flash's indexer — 64 heads × 128, the top 512 — over 2,048 FP4 keys (8,192 tokens at ratio 4): many
  // key blocks and a full selection, on this backend and on the CPU backend fed the same inputs. Scores are
  // computed in the CPU's order on every backend, so the picks must be the CPU's exactly.
  std::mt19937 rng(44);
  const int64_t ratio = 4, di = 128, index_heads = 64, k = 512, prefill = 8192, decode = 3;
  const KvCodec rows_codec(KvFormat::kFp8Rope, 512, 64), keys_codec(KvFormat::kFp4, di, 0);
  StateSpec spec;
  spec.window = 128;
  spec.layers.push_back({rows_codec, {ratio, 512, true, rows_codec}, {ratio, di, true, keys_codec}});
  const std::unique_ptr<Backend> cpu = make_cpu_backend();
  const StateId state = backend().create_state(spec), cpu_state = cpu->create_state(spec);
  std::vector<float> inv_freq(32);
  for (int64_t i = 0; i < 32; ++i) inv_freq[static_cast<size_t>(i)] = std::pow(10000.0f, -2.0f * i / 64);
  Tensor ape = random_tensor({ratio, 2 * di}, rng, 0.5f), norm = random_tensor({di}, rng, 0.3f);
  for (float& v : norm.values()) v += 1.0f;
  auto params = [&](Backend& b) {
    auto up = [&](const void* p, int64_t bytes) { return static_cast<const float*>(b.upload(p, bytes)); };
    const RopeFrequencies freq{up(inv_freq.data(), 32 * 4), 64};
    return Backend::CompressorParams{CompressorRole::kIndexer, up(ape.data(), ape.size() * 4),
                                     up(norm.data(), norm.size() * 4), freq, 1e-6f, true};
  };
  const Backend::CompressorParams indexer = params(backend()), cpu_indexer = params(*cpu);
  const float index_scale = 1.0f / std::sqrt(static_cast<float>(di)), weight_scale = 0.125f;
  std::vector<int32_t> tokens, logit_rows;
  std::vector<StepSequence> sequences;
  int64_t compared = 0;
  for (int64_t start = 0; start < prefill + decode;) {
    const int64_t n = start == 0 ? prefill : 1;
    const Step step = begin_step(state, start, n);
    tokens.assign(static_cast<size_t>(n), 0);
    sequences = {{cpu_state, 0, n, start}};
    logit_rows = {static_cast<int32_t>(n - 1)};
    const Step cpu_step = cpu->begin_step({tokens, sequences, logit_rows});
    const Tensor kv = random_tensor({n, 2 * di}, rng), gate = random_tensor({n, 2 * di}, rng);
    backend().compressor_append(step, 0, indexer, copy_in(kv), copy_in(gate));
    cpu->compressor_append(cpu_step, 0, cpu_indexer, kv.matrix(), gate.matrix());
    if (n == 1) {  // decode: the prefill's 8,192 rows would only cost the CPU time
      const Tensor qi = random_tensor({1, index_heads * di}, rng), w = random_tensor({1, index_heads}, rng);
      MatrixView<int32_t> picks = int_rows(1, k);
      backend().indexer_top_k(step, 0, copy_in(qi), copy_in(w), weight_scale, index_scale, picks);
      std::vector<int32_t> want(static_cast<size_t>(k));
      cpu->indexer_top_k(cpu_step, 0, qi.matrix(), w.matrix(), weight_scale, index_scale, {want.data(), 1, k});
      EXPECT_EQ(copy_out(MatrixView<const int32_t>(picks)), want) << "step at position " << start;
      compared += std::count_if(want.begin(), want.end(), [](int32_t p) { return p >= 0; });
    }
    start += n;
  }
  EXPECT_EQ(compared, decode * k);
  backend().free_state(state);
  cpu->free_state(cpu_state);
}

TEST_P(SessionOps, AttentionAtFlashShapesOverEightThousandEntriesMatchesTheTruth) {
  // V4-Flash's attention (64 heads × 512 in paper rows, a window of 128) over 8,320 entries pooled at ratio
  // 2 from a 16,640-token prefill: on the CUDA backend its tensor-core kernel with parts of two tiles, each
  // of the four head groups' 66 parts merged by the combine.
  std::mt19937 rng(45);
  const int64_t ratio = 2, heads = 64, d = 512, rope = 64, window = 128, prefill = 16640, decode = 2;
  const int64_t total = prefill + decode;
  const KvCodec codec(KvFormat::kFp8Rope, d, rope);
  StateSpec spec;
  spec.window = window;
  spec.layers.push_back({codec, {ratio, d, false, codec}, {}});
  const StateId state = backend().create_state(spec);
  std::vector<float> inv_freq(rope / 2);
  for (int64_t i = 0; i < rope / 2; ++i) inv_freq[static_cast<size_t>(i)] = std::pow(10000.0f, -2.0f * i / rope);
  Tensor ape = random_tensor({ratio, d}, rng, 0.5f), norm = random_tensor({d}, rng, 0.3f);
  for (float& v : norm.values()) v += 1.0f;
  const Backend::CompressorParams main{CompressorRole::kMain, table(ape), table(norm), {table(inv_freq), rope}, 1e-6f,
                                       false};
  Tensor kv = random_tensor({total, d}, rng), sinks = random_tensor({heads}, rng);
  Tensor stored = kv;
  for (int64_t p = 0; p < total; ++p) codec.round_trip(stored.matrix().row(p));
  const float* sinks_device = table(sinks);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t start = 0; start < total;) {
    const int64_t n = start < prefill ? std::min<int64_t>(4096, prefill - start) : 1;
    const Step step = begin_step(state, start, n);
    backend().compressor_append(step, 0, main, copy_in(random_tensor({n, d}, rng)),
                                copy_in(random_tensor({n, d}, rng)));
    const MatrixView<float> chunk = copy_in(kv.matrix().rows_slice(start, n));
    if (start >= prefill) {  // the prefill's queries would only cost the CPU time
      Tensor q = random_tensor({1, heads * d}, rng);
      MatrixView<float> out = rows(1, heads * d);
      backend().attention(step, 0, copy_in(q), heads, chunk, {}, sinks_device, scale, out);
      const StateImage image = backend().export_state(state);
      const Tensor entries = decoded_entries(codec, image.layers[0].compressor);
      EXPECT_EQ(entries.dim(0), (start + 1) / ratio);
      Tensor keys({start + 1, d});  // positions 0 … start: earlier rows as stored, its own as given
      for (int64_t p = 0; p <= start; ++p) {
        const Tensor& from = p < start ? stored : kv;
        std::copy(from.matrix().row(p), from.matrix().row(p) + d, keys.matrix().row(p));
      }
      const int64_t position = start;
      Tensor truth({1, heads * d});
      cpu::attention_reference(q.matrix(), heads, {keys.matrix(), 0, window, entries.matrix(), ratio, {}}, &position,
                               sinks.data(), scale, truth.matrix());
      EXPECT_LT(relative_l2(copy_out(out), truth), 1e-5) << "step at position " << start;
    }
    backend().window_append(step, 0, chunk);
    start += n;
  }
  backend().free_state(state);
}

}  // namespace
}  // namespace baleen::test
