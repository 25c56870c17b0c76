#include "backend/cpu/compressor_pool.h"

#include <gtest/gtest.h>

#include <limits>

#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuCompressorPool, MatchesTruthWithUnusedSlots) {
  std::mt19937 rng(12);
  const int64_t entries = 5, slots = 8, d = 24;
  Tensor kv = test::random_tensor({entries * slots, d}, rng),
         gate = test::random_tensor({entries * slots, d}, rng);
  for (int64_t j = 0; j < slots / 2; ++j) {  // entry 0's first half unused, as CSA's first window
    for (int64_t c = 0; c < d; ++c) gate.matrix()(j, c) = -std::numeric_limits<float>::infinity();
  }
  Tensor fast({entries, d}), truth({entries, d});
  cpu::compressor_pool_entries(kv.matrix(), gate.matrix(), slots, fast.matrix(), 0, entries);
  cpu::compressor_pool_reference(kv.matrix(), gate.matrix(), slots, truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
  // Equal gates average the used slots.
  Tensor flat({slots, d});
  Tensor mean({1, d});
  cpu::compressor_pool_entries(kv.matrix().rows_slice(slots, slots), flat.matrix(), slots, mean.matrix(), 0, 1);
  double want = 0;
  for (int64_t j = 0; j < slots; ++j) want += kv.matrix()(slots + j, 3);
  EXPECT_NEAR(mean.matrix()(0, 3), want / slots, 1e-5);
}

}  // namespace
}  // namespace baleen
