// Test support: one stored weight per format and scale regime the weight readers distinguish (partial
// blocks, scalar tails, scales at the fp32 range's edges), shared by the CPU kernel tests and the
// backend conformance suite.
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "quantized_weights.h"

namespace baleen::test {

struct WeightCase {
  std::string name;
  std::function<void(StoredWeight&, std::mt19937&)> make;
  bool finite = true;  // false: values near the fp32 range, where products and sums overflow
};

inline std::vector<WeightCase> weight_cases() {
  const ScaleDraw ue8m0{DType::kUE8M0, 117, 130}, f32{DType::kF32, 1, 900};
  return {
      // DeepSeek's 128×128 blocks, partial at the bottom (200 = 128 + 72) and right (300 = 2·128 + 44),
      // and a 4-column scalar tail.
      {"fp8 [200, 300] 128x128 ue8m0",
       [=](auto& w, auto& rng) { make_fp8(w, 200, 300, 128, 128, ue8m0, rng); }},
      {"fp8 [200, 300] 128x128 f32 scales",
       [=](auto& w, auto& rng) { make_fp8(w, 200, 300, 128, 128, f32, rng); }},
      // Scales from 2^-127 (products are subnormal) to 2^119: the fused scale·2^8 path at its limits.
      {"fp8 ue8m0 2^-127..2^119",
       [](auto& w, auto& rng) {
         make_fp8(w, 130, 136, 128, 128, {DType::kUE8M0, 0, 246}, rng);
       },
       false},
      // Scales ≥ 2^120, where scale·2^8 overflows: the two-step path (codes ≤ 2^-2 keep values finite).
      {"fp8 ue8m0 2^120..2^122 small codes",
       [](auto& w, auto& rng) {
         make_fp8(w, 130, 136, 128, 128, {DType::kUE8M0, 247, 249}, rng, 0x28);
       }},
      {"fp8 [75, 100] 32x32 ue8m0",
       [=](auto& w, auto& rng) { make_fp8(w, 75, 100, 32, 32, ue8m0, rng); }},
      // Blocks that do not fall on 8-column chunks: the scalar reader.
      {"fp8 [23, 45] 5x12 f32 scales",
       [=](auto& w, auto& rng) { make_fp8(w, 23, 45, 5, 12, f32, rng); }},
      {"fp8 [9, 7] 128x128 (tail only)",
       [=](auto& w, auto& rng) { make_fp8(w, 9, 7, 128, 128, ue8m0, rng); }},
      {"fp4 [37, 256] ue8m0", [=](auto& w, auto& rng) { make_fp4(w, 37, 256, ue8m0, rng); }},
      {"fp4 [37, 200] ue8m0 (partial 32-block)",
       [=](auto& w, auto& rng) { make_fp4(w, 37, 200, ue8m0, rng); }},
      {"fp4 [37, 90] ue8m0 (scalar tail)",
       [=](auto& w, auto& rng) { make_fp4(w, 37, 90, ue8m0, rng); }},
      {"fp4 [21, 96] f32 scales", [=](auto& w, auto& rng) { make_fp4(w, 21, 96, f32, rng); }},
      {"fp4 ue8m0 2^-127..2^103",
       [](auto& w, auto& rng) {
         make_fp4(w, 13, 64, {DType::kUE8M0, 0, 230}, rng);
       }},
      {"bf16 [45, 300]", [](auto& w, auto& rng) { make_bf16(w, 45, 300, rng); }},
  };
}

}  // namespace baleen::test
