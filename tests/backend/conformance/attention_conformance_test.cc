// Attention through a backend's own session state against the float64 truth: a sequence prefills a
// chunk longer than its window, then decodes token by token, its window ring in fp32 rows and in the
// paper's 584-byte FP8 + bf16-rope rows. A query sees the window's earlier rows as stored (the codec's
// round trip) and its own step's rows as given.
#include <gtest/gtest.h>

#include <cmath>

#include "../cpu/random_inputs.h"
#include "backend/cpu/attention.h"
#include "backend_under_test.h"

namespace baleen::test {
namespace {

class SessionOps : public BackendUnderTest {};
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
      const std::vector<int32_t> tokens(static_cast<size_t>(n), 0);
      const std::vector<StepSequence> sequences = {{state, 0, n, start}};
      const std::vector<int32_t> logit_rows = {static_cast<int32_t>(n - 1)};
      const Step step = backend().begin_step({tokens, sequences, logit_rows});
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

}  // namespace
}  // namespace baleen::test
