#include "model/random_checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/layout.h"
#include "model/parameters.h"
#include "tiny_checkpoint.h"

namespace baleen {
namespace {

std::vector<char> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

double stddev(const Tensor& t) {
  double s = 0, s2 = 0;
  for (float v : t.values()) s += v, s2 += double(v) * v;
  const double n = double(t.size()), mean = s / n;
  return std::sqrt(s2 / n - mean * mean);
}

TEST(RandomCheckpoint, TinyShapeOpensValidatesAndHoldsSaneValues) {
  const auto dir = testing::fresh_dir("random_tiny");
  const nlohmann::json config = random_checkpoint_config("tiny", 3);
  write_random_checkpoint(config, dir, 11, 64 << 10);  // 64 KiB shards: several files and an index
  const Checkpoint ck = Checkpoint::open(dir);
  const CheckpointPlan plan = plan_random_checkpoint(ck.config(), 64 << 10);
  ASSERT_GT(plan.shards.size(), 2u);
  for (const auto& shard : plan.shards)
    EXPECT_EQ(std::filesystem::file_size(dir / shard.file), shard.file_bytes);
  EXPECT_TRUE(ck.summary().unexpected.empty());
  std::set<std::string> want, stored;
  for (const auto& t : expected_tensors(ck.config())) want.insert(t.name);
  for (const auto& name : ck.names()) {
    EXPECT_EQ(count_non_finite(ck.info(name)), 0u) << name;
    if (!name.ends_with(".scale")) stored.insert(name);
  }
  EXPECT_EQ(stored, want);
  // The official dtypes, and weights of ~1/sqrt(fan_in).
  EXPECT_EQ(ck.info("layers.1.attn.wq_b.weight").dtype, DType::kF8E4M3);
  EXPECT_EQ(ck.info("layers.1.ffn.experts.3.w2.weight").dtype, DType::kF4E2M1x2);
  EXPECT_EQ(ck.info("layers.1.attn.compressor.wkv.weight").dtype, DType::kBF16);
  for (const char* name :
       {"layers.1.attn.wq_b.weight", "layers.2.ffn.experts.0.w1.weight",
        "layers.0.ffn.shared_experts.w2.weight", "layers.1.attn.indexer.weights_proj.weight"}) {
    const Tensor w = ck.load_f32(name);
    const double want_sd = 1.0 / std::sqrt(double(w.shape()[1]));
    EXPECT_NEAR(stddev(w), want_sd, 0.25 * want_sd) << name;
  }
  // Hash routing picks K distinct experts per token.
  const Tensor ids = ck.load_f32("layers.0.ffn.gate.tid2eid");
  const auto m = ids.matrix();
  for (int64_t v = 0; v < m.rows; ++v) {
    const std::set<float> row(m.row(v), m.row(v) + m.cols);
    EXPECT_EQ(static_cast<int64_t>(row.size()), m.cols) << "token " << v;
  }
}

TEST(RandomCheckpoint, BytesAreAFunctionOfTheSeed) {
  const nlohmann::json config = random_checkpoint_config("tiny", 2);
  const auto a = testing::fresh_dir("random_seed_a"), b = testing::fresh_dir("random_seed_b"),
             c = testing::fresh_dir("random_seed_c");
  write_random_checkpoint(config, a, 5);
  write_random_checkpoint(config, b, 5);
  write_random_checkpoint(config, c, 6);
  const auto file = plan_random_checkpoint(parse_config(config, "tiny"), uint64_t{4} << 30).shards.at(0).file;
  EXPECT_EQ(file_bytes(a / file), file_bytes(b / file));
  EXPECT_NE(file_bytes(a / file), file_bytes(c / file));
  EXPECT_EQ(file_bytes(a / "config.json"), file_bytes(c / "config.json"));
}

// The 1-layer V4-Flash plan (3.4 GB of experts, not written here) against sizes worked out by hand from
// the published shapes, and against the parameter count's bytes.
TEST(RandomCheckpoint, FlashPlanHasTheOfficialBytes) {
  const Config c = parse_config(random_checkpoint_config("flash", 1), "flash");
  EXPECT_EQ(c.layers.size(), 1u);
  EXPECT_EQ(c.layers[0].compress_ratio, 0);
  EXPECT_EQ(c.layers[0].routing, MoeRouting::kHash);
  const uint64_t D = 4096, V = 129280, F = 2048, E = 256;
  auto fp8 = [](uint64_t out, uint64_t in) { return out * in + ((out + 127) / 128) * ((in + 127) / 128); };
  auto fp4 = [](uint64_t out, uint64_t in) { return out * in / 2 + out * (in / 32); };
  const uint64_t hc_site = 24 * 4 * D * 4 + 24 * 4 + 3 * 4;  // fn [24, 4D], base [24], scale [3], F32
  const uint64_t top = 2 * V * D * 2 + D * 2 + (4 * 4 * D * 4 + 4 * 4 + 4);  // embed, head, norm, hc_head
  const uint64_t attention = fp8(1024, D) + 1024 * 2 + fp8(64 * 512, 1024) + fp8(512, D) + 512 * 2 +
                             fp8(8 * 1024, 64 * 512 / 8) + fp8(D, 8 * 1024) + 64 * 4;
  const uint64_t ffn = E * D * 2 + V * 6 * 8 + E * (2 * fp4(F, D) + fp4(D, F)) + 2 * fp8(F, D) + fp8(D, F);
  const uint64_t layer = 2 * D * 2 + 2 * hc_site + attention + ffn;
  const CheckpointPlan plan = plan_random_checkpoint(c);
  EXPECT_EQ(plan.tensor_bytes, top + layer);
  uint64_t counted = 0, headers = 0;
  for (const auto& [dtype, bytes] : count_parameters(c).bytes) counted += bytes;
  EXPECT_EQ(plan.tensor_bytes, counted);
  for (const auto& s : plan.shards) {
    EXPECT_LE(s.file_bytes, (uint64_t{4} << 30) + (1 << 20)) << s.file;
    headers += safetensors_header(s.tensors, {{"format", "pt"}}).size();
  }
  EXPECT_EQ(plan.file_bytes, plan.tensor_bytes + headers);
  EXPECT_EQ(plan.shards.size(), 2u);  // 5.6 GB in 4 GiB shards
}

TEST(RandomCheckpoint, RefusesUnknownShapesBadLayerCountsAndExistingCheckpoints) {
  EXPECT_THROW(random_checkpoint_config("huge", 2), Error);
  EXPECT_THROW(random_checkpoint_config("flash", 0), Error);
  EXPECT_THROW(random_checkpoint_config("flash", 44), Error);
  const auto dir = testing::fresh_dir("random_existing");
  std::ofstream(dir / "config.json") << "{}";
  EXPECT_THROW(write_random_checkpoint(random_checkpoint_config("tiny", 1), dir, 1), Error);
  EXPECT_EQ(file_bytes(dir / "config.json"), (std::vector<char>{'{', '}'}));
}

}  // namespace
}  // namespace baleen
