// Sparse decode attention against cpu::attention_reference (float64) on the rows as KvCodec stores them:
// window + every visible HCA entry, and window + CSA picks (some −1). q and the softmax weights are rounded
// to bf16 for the tensor cores, so the tests allow 1e-2 relative L2 (the measured error is printed).
#include "backend/cuda/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "../cpu/random_inputs.h"
#include "backend/cpu/attention.h"
#include "device_test_support.h"
#include "paged_rows.h"

namespace baleen::test {
namespace {

class SparseAttentionTest : public CudaTest {};

constexpr int64_t kDim = 512, kRope = 64, kWindow = 128;

struct Case {
  int64_t heads, ratio, entries, picks;  // picks 0: HCA (every visible entry)
};

void run_case(const Case& c, std::mt19937& rng) {
  const KvCodec codec(KvFormat::kFp8Rope, kDim, kRope);
  ASSERT_EQ(codec.data_bytes(), cuda::kKvDataBytes);
  ASSERT_EQ(codec.scale_bytes(), cuda::kKvScaleBytes);
  const std::vector<int64_t> positions = {c.ratio * c.entries - 1, c.ratio * c.entries / 2 + 3, 140};
  const int64_t tokens = static_cast<int64_t>(positions.size());
  const int64_t window_start = 0, window_rows = positions[0] + 1;
  const PagedRows window(codec, 64, random_tensor({window_rows, kDim}, rng), rng);
  const PagedRows entries(codec, 32, random_tensor({c.entries, kDim}, rng, 2.0f), rng);
  const Tensor q = random_tensor({tokens, c.heads * kDim}, rng);
  const Tensor sinks = random_tensor({c.heads}, rng);

  // The CPU's keys and the GPU's row lists for the same visible set.
  std::vector<int32_t> picks;
  const int64_t extra_count = c.picks > 0 ? c.picks : c.entries;
  std::vector<int32_t> window_list(static_cast<size_t>(tokens * kWindow), -1),
      extra_list(static_cast<size_t>(tokens * extra_count), -1);
  std::uniform_int_distribution<int> coin(0, 9);
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t p = positions[static_cast<size_t>(t)];
    for (int64_t i = 0, pos = std::max<int64_t>(0, p - kWindow + 1); pos <= p; ++pos, ++i)
      window_list[static_cast<size_t>(t * kWindow + i)] = window.row_of[static_cast<size_t>(pos)];
    const int64_t visible = std::min(c.entries, (p + 1) / c.ratio);
    if (c.picks == 0) {
      for (int64_t s = 0; s < visible; ++s)
        extra_list[static_cast<size_t>(t * extra_count + s)] = entries.row_of[static_cast<size_t>(s)];
      continue;
    }
    std::vector<int32_t> order(static_cast<size_t>(visible));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t i = 0; i < c.picks; ++i) {
      const int32_t s = i < visible && coin(rng) > 0 ? order[static_cast<size_t>(i)] : -1;
      picks.push_back(s);
      if (s >= 0)
        extra_list[static_cast<size_t>(t * extra_count + i)] = entries.row_of[static_cast<size_t>(s)];
    }
  }
  cpu::AttentionKeys keys;
  keys.window = window.decoded.matrix();
  keys.window_start = window_start;
  keys.window_size = kWindow;
  keys.compressed = entries.decoded.matrix();
  keys.ratio = c.ratio;
  if (c.picks > 0) keys.picks = MatrixView<const int32_t>(picks.data(), tokens, c.picks);
  const float scale = 1.0f / std::sqrt(float(kDim));
  Tensor want({tokens, c.heads * kDim});
  cpu::attention_reference(q.matrix(), c.heads, keys, positions.data(), sinks.data(), scale, want.matrix());

  DeviceBuffer<uint8_t> wpool(window.pages), epool(entries.pages);
  DeviceBuffer<int32_t> wlist(window_list), elist(extra_list);
  DeviceBuffer<float> dq(std::vector<float>(q.values().begin(), q.values().end()));
  DeviceBuffer<float> dsinks(std::vector<float>(sinks.values().begin(), sinks.values().end()));
  DeviceBuffer<float> out(static_cast<size_t>(want.size()));
  out.poison();
  cuda::SparseDecodeArgs a;
  a.q = dq.get();
  a.tokens = tokens;
  a.heads = c.heads;
  a.window_pool = {wpool.get(), 64};
  a.window = {wlist.get(), kWindow, kWindow};
  a.extra_pool = {epool.get(), 32};
  a.extra = {elist.get(), extra_count, extra_count};
  a.sinks = dsinks.get();
  a.scale = scale;
  a.out = out.get();
  const size_t ws_bytes = cuda::sparse_decode_workspace_bytes(a);
  DeviceBuffer<uint8_t> ws(ws_bytes);
  ws.poison();
  ASSERT_TRUE(synced(cuda::sparse_decode_attention(a, ws.get(), ws_bytes, nullptr)));
  const auto host = out.download();
  Tensor got({tokens, c.heads * kDim});
  std::copy(host.begin(), host.end(), got.data());
  const double err = relative_l2(got, want);
  EXPECT_LT(err, 1e-2) << "heads " << c.heads << " ratio " << c.ratio << " picks " << c.picks;
  std::printf("sparse_decode_attention heads %ld ratio %ld entries %ld picks %ld: rel L2 %.2e\n",
              long(c.heads), long(c.ratio), long(c.entries), long(c.picks), err);
}

TEST_F(SparseAttentionTest, WindowPlusEveryVisibleHcaEntryMatchesFloat64Reference) {
  std::mt19937 rng(51);
  run_case({64, 128, 40, 0}, rng);
  run_case({32, 4, 700, 0}, rng);
}

TEST_F(SparseAttentionTest, WindowPlusCsaPicksMatchesFloat64Reference) {
  std::mt19937 rng(52);
  run_case({64, 4, 900, 512}, rng);
}

TEST_F(SparseAttentionTest, RejectsHeadCountsThatAreNotGroupsOf16) {
  cuda::SparseDecodeArgs a;
  a.tokens = 1;
  a.heads = 24;
  EXPECT_EQ(cuda::sparse_decode_attention(a, nullptr, 0, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace baleen::test
