#include "model/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "core/error.h"
#include "model/safetensors.h"
#include "tiny_checkpoint.h"

namespace baleen {
namespace {

using nlohmann::json;
using testing::fresh_dir;
using testing::TinyWriter;
using testing::Written;

std::string open_error(const std::filesystem::path& dir) {
  try {
    Checkpoint::open(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes the tiny model into `dir` as one file (or the caller's edit of it); returns what was written.
Written write_tiny(const std::filesystem::path& dir, bool quantized, uint32_t seed = 7) {
  const json config = testing::tiny_config(quantized);
  testing::write_config(dir, config);
  Written w = TinyWriter(seed).write_all(parse_config(config, "tiny"));
  write_safetensors(dir / "model.safetensors", w.tensors);
  return w;
}

void expect_matches_truth(const Checkpoint& ck, const Written& w) {
  for (const auto& [name, truth] : w.truth) {
    const Tensor t = ck.load_f32(name);
    ASSERT_EQ(static_cast<size_t>(t.size()), truth.size()) << name;
    for (size_t i = 0; i < truth.size(); ++i) {
      ASSERT_EQ(t.data()[i], static_cast<float>(truth[i])) << name << " element " << i;
    }
  }
}

TEST(Checkpoint, OpensQuantizedCheckpointAndDequantizesExactly) {
  const auto dir = fresh_dir("quantized");
  const Written w = write_tiny(dir, true);
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_TRUE(ck.summary().unexpected.empty());
  EXPECT_TRUE(ck.summary().mtp_available);
  EXPECT_EQ(ck.info("layers.0.ffn.experts.1.w2.weight").dtype, DType::kF4E2M1x2);
  EXPECT_EQ(ck.info("layers.0.ffn.experts.1.w2.weight").shape, (std::vector<int64_t>{160, 72}));
  EXPECT_EQ(ck.info("layers.1.attn.wq_b.weight").dtype, DType::kF8E4M3);
  EXPECT_EQ(ck.info("layers.1.attn.wq_b.scale").dtype, DType::kUE8M0);
  expect_matches_truth(ck, w);
}

// The float64 values before quantization: FP8 keeps 3 mantissa bits (relative error <= 2^-4 above the
// subnormal range), FP4 keeps 1 (error <= the block scale, half the widest e2m1 step of 2).
TEST(Checkpoint, DequantizedWeightsStayWithinFormatErrorOfFloat64Truth) {
  const auto dir = fresh_dir("quantized_bound");
  const Written w = write_tiny(dir, true, 11);
  const Checkpoint ck = Checkpoint::open(dir);
  int checked = 0;
  for (const auto& [name, original] : w.original) {
    const Tensor t = ck.load_f32(name);
    const bool fp4 = ck.info(name).dtype == DType::kF4E2M1x2;
    const TensorInfo& scale = ck.info(scale_name(name));
    const int64_t cols = t.shape()[1];
    const int64_t scale_cols = scale.shape[1];
    const int64_t block_cols = fp4 ? 32 : 128;  // the tiny config's blocks: FP4 per 32, FP8 128×128
    const int64_t block_rows = fp4 ? 1 : 128;
    for (size_t i = 0; i < original.size(); ++i) {
      const int64_t r = static_cast<int64_t>(i) / cols, k = static_cast<int64_t>(i) % cols;
      const double s = std::ldexp(1.0, scale.data[(r / block_rows) * scale_cols + k / block_cols] - 127);
      const double bound = fp4 ? s : std::max(std::fabs(original[i]) / 16.0, s * std::ldexp(1.0, -9));
      ASSERT_LE(std::fabs(t.data()[i] - original[i]), bound) << name << " element " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(Checkpoint, Fp4PacksElementTwoIInTheLowNibble) {
  // One row of 32 inputs, scale 2^1: byte 0x2B holds element 0 = code 0xB (-1.5), element 1 = code 0x2 (1.0).
  std::vector<uint8_t> packed(16, 0x00);
  packed[0] = 0x2B;
  packed[15] = 0x7F;  // element 30 = code 0xF (-6), element 31 = code 0x7 (6)
  const uint8_t scale_byte = 128;
  const TensorInfo scale{"s", DType::kUE8M0, {1, 1}, &scale_byte, 1};
  std::vector<float> out(32);
  dequantize_fp4(packed.data(), scale, 1, 32, 32, out.data());
  EXPECT_EQ(out[0], -3.0f);
  EXPECT_EQ(out[1], 2.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[30], -12.0f);
  EXPECT_EQ(out[31], 12.0f);
}

TEST(Checkpoint, CountsNonFiniteValuesOfEveryFloatFormat) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> f32(257);
  for (auto& v : f32) v = normal(rng);
  f32[3] = std::numeric_limits<float>::quiet_NaN();
  f32[200] = -std::numeric_limits<float>::infinity();
  std::vector<uint16_t> bf16;
  for (float v : f32) bf16.push_back(f32_to_bf16(v));
  std::vector<uint8_t> fp8;
  for (float v : f32) fp8.push_back(f32_to_fp8_e4m3(v));  // NaN stays NaN; -inf saturates to -448
  const auto info = [](DType t, const void* p, size_t n) {
    return TensorInfo{"t", t, {}, static_cast<const uint8_t*>(p), n};
  };
  EXPECT_EQ(count_non_finite(info(DType::kF32, f32.data(), 4 * f32.size())), 2u);
  EXPECT_EQ(count_non_finite(info(DType::kBF16, bf16.data(), 2 * bf16.size())), 2u);
  EXPECT_EQ(count_non_finite(info(DType::kF8E4M3, fp8.data(), fp8.size())), 1u);
  const uint8_t scales[] = {127, 255, 3};
  EXPECT_EQ(count_non_finite(info(DType::kUE8M0, scales, 3)), 1u);
}

TEST(Checkpoint, OpensUnquantizedCheckpoint) {
  const auto dir = fresh_dir("plain");
  const Written w = write_tiny(dir, false);
  const Checkpoint ck = Checkpoint::open(dir);
  expect_matches_truth(ck, w);
  EXPECT_EQ(ck.info("layers.1.attn.wq_b.weight").dtype, DType::kBF16);
}

// transformers' save_pretrained names under model., with experts fused into [E, 2F, D] / [E, D, F].
TEST(Checkpoint, TransformersLayoutWithFusedExpertsMapsOntoOfficialNames) {
  const auto dir = fresh_dir("transformers");
  json config = testing::tiny_config(false);
  testing::write_config(dir, config);
  const Config c = parse_config(config, "tiny");
  Written w = TinyWriter(3).write_all(c);
  std::vector<SafetensorsTensor> out;
  std::map<std::string, SafetensorsTensor> fused;
  const std::map<std::string, std::string> renames = {
      {"embed.weight", "model.embed_tokens.weight"}, {"head.weight", "lm_head.weight"},
      {"norm.weight", "model.norm.weight"},          {"hc_head_fn", "model.hc_head.hc_fn"},
      {"hc_head_base", "model.hc_head.hc_base"},     {"hc_head_scale", "model.hc_head.hc_scale"}};
  for (auto& t : w.tensors) {
    if (t.name.rfind("mtp.", 0) == 0) continue;  // transformers does not save the MTP block
    const auto experts = t.name.find(".ffn.experts.");
    if (experts != std::string::npos) {
      const std::string layer = t.name.substr(0, experts);
      const bool down = t.name.find(".w2.") != std::string::npos;
      auto& f = fused[layer + (down ? ".down" : ".gate_up")];
      if (f.name.empty()) {
        f = {"model." + layer + (down ? ".mlp.experts.down_proj" : ".mlp.experts.gate_up_proj"),
             t.dtype,
             {c.n_routed_experts, down ? c.hidden_size : 2 * c.moe_inter_dim,
              down ? c.moe_inter_dim : c.hidden_size},
             {}};
      }
      f.bytes.insert(f.bytes.end(), t.bytes.begin(), t.bytes.end());  // w1, w2, w3 order per expert
      continue;
    }
    auto it = renames.find(t.name);
    t.name = it != renames.end() ? it->second : "model." + t.name;
    out.push_back(std::move(t));
  }
  for (auto& [key, f] : fused) out.push_back(std::move(f));
  write_safetensors(dir / "model.safetensors", out);
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_FALSE(ck.summary().mtp_available);
  for (const auto& [name, truth] : w.truth) {
    if (name.rfind("mtp.", 0) == 0) continue;
    const Tensor t = ck.load_f32(name);
    ASSERT_EQ(static_cast<size_t>(t.size()), truth.size()) << name;
    for (size_t i = 0; i < truth.size(); ++i) ASSERT_EQ(t.data()[i], static_cast<float>(truth[i])) << name;
  }
}

// Splits the tiny model over two shards with an index; `edit` may break the index document.
void write_sharded(const std::filesystem::path& dir, const std::function<void(json&)>& edit) {
  const json config = testing::tiny_config(true);
  testing::write_config(dir, config);
  Written w = TinyWriter(5).write_all(parse_config(config, "tiny"));
  std::vector<SafetensorsTensor> a, b;
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  uint64_t total = 0;
  for (size_t i = 0; i < w.tensors.size(); ++i) {
    const std::string shard = i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
    index["weight_map"][w.tensors[i].name] = shard;
    total += w.tensors[i].bytes.size();
    (i % 2 ? b : a).push_back(w.tensors[i]);
  }
  index["metadata"]["total_size"] = total;
  edit(index);
  write_safetensors(dir / "model-00001-of-00002.safetensors", a);
  write_safetensors(dir / "model-00002-of-00002.safetensors", b);
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
}

TEST(Checkpoint, ShardedCheckpointOpens) {
  const auto dir = fresh_dir("sharded");
  write_sharded(dir, [](json&) {});
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_EQ(ck.summary().files.size(), 2u);
}

TEST(Checkpoint, ShardIndexProblemsAreErrors) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"missing shard", [](json& j) { j["weight_map"]["embed.weight"] = "model-00009-of-00009.safetensors"; },
       "model-00009-of-00009.safetensors"},
      {"tensor not in index", [](json& j) { j["weight_map"].erase("norm.weight"); },
       "'norm.weight' is not in the index"},
      {"indexed tensor absent",
       [](json& j) { j["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"; },
       "'ghost.weight' is not in this shard"},
      {"total_size lies", [](json& j) { j["metadata"]["total_size"] = 5; }, "total_size = 5"},
      {"escaping path", [](json& j) { j["weight_map"]["norm.weight"] = "../x.safetensors"; },
       "not a file inside"},
  };
  for (const auto& c : cases) {
    const auto dir = fresh_dir("shard_problem");
    write_sharded(dir, c.edit);
    const std::string error = open_error(dir);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.what << ": " << error;
  }
}

// Writes the tiny model after `edit` changes the tensor list.
std::string open_edited(const std::string& name,
                        const std::function<void(std::vector<SafetensorsTensor>&)>& edit) {
  const auto dir = fresh_dir(name);
  const json config = testing::tiny_config(true);
  testing::write_config(dir, config);
  Written w = TinyWriter(9).write_all(parse_config(config, "tiny"));
  edit(w.tensors);
  write_safetensors(dir / "model.safetensors", w.tensors);
  return open_error(dir);
}

void remove_tensor(std::vector<SafetensorsTensor>& ts, const std::string& name) {
  ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const auto& t) { return t.name == name; }), ts.end());
}

SafetensorsTensor& tensor_named(std::vector<SafetensorsTensor>& ts, const std::string& name) {
  return *std::find_if(ts.begin(), ts.end(), [&](const auto& t) { return t.name == name; });
}

TEST(Checkpoint, AllMissingTensorsAreListedInOneError) {
  const std::string error = open_edited("missing", [](auto& ts) {
    remove_tensor(ts, "layers.2.attn.compressor.ape");
    remove_tensor(ts, "layers.0.ffn.gate.tid2eid");
    remove_tensor(ts, "layers.3.ffn.experts.2.w3.weight");
    remove_tensor(ts, "layers.1.attn.wq_a.scale");
  });
  for (const char* name :
       {"'layers.2.attn.compressor.ape'", "'layers.0.ffn.gate.tid2eid'", "'layers.3.ffn.experts.2.w3.weight'",
        "missing scale 'layers.1.attn.wq_a.scale'"}) {
    EXPECT_NE(error.find(name), std::string::npos) << name << " not in: " << error;
  }
  EXPECT_NE(error.find("4 problem(s)"), std::string::npos) << error;
}

TEST(Checkpoint, WrongShapeAndWrongDtypeAreNamed) {
  const std::string error = open_edited("wrong", [](auto& ts) {
    auto& sink = tensor_named(ts, "layers.1.attn.attn_sink");  // F32 [2] -> F32 [1, 2]
    sink.shape = {1, 2};
    auto& norm = tensor_named(ts, "norm.weight");  // BF16 -> I16-sized U8 pairs
    norm.dtype = DType::kU8;
    norm.shape = {320};
    auto& scale = tensor_named(ts, "layers.2.attn.wo_b.scale");   // wrong block grid
    scale.shape = {1, static_cast<int64_t>(scale.bytes.size())};  // [2, 1] expected
  });
  EXPECT_NE(error.find("'layers.1.attn.attn_sink' has shape [1, 2]; expected [2]"), std::string::npos)
      << error;
  EXPECT_NE(error.find("'norm.weight' has dtype U8"), std::string::npos) << error;
  EXPECT_NE(error.find("scale 'layers.2.attn.wo_b.scale'"), std::string::npos) << error;
}

TEST(Checkpoint, HashTableWithUnknownExpertIsAnError) {
  const std::string error = open_edited("tid2eid", [](auto& ts) {
    auto& t = tensor_named(ts, "layers.0.ffn.gate.tid2eid");
    t.bytes[8 * 5] = 4;  // element 5 = expert 4 of 4
  });
  EXPECT_NE(error.find("expert id 4 at element 5"), std::string::npos) << error;
}

TEST(Checkpoint, UnexpectedTensorsAreListedAndBrokenMtpIsSkipped) {
  const auto dir = fresh_dir("unexpected");
  const json config = testing::tiny_config(true);
  testing::write_config(dir, config);
  Written w = TinyWriter(13).write_all(parse_config(config, "tiny"));
  remove_tensor(w.tensors, "mtp.0.e_proj.weight");
  w.tensors.push_back({"layers.0.extra.weight", DType::kF32, {2}, std::vector<uint8_t>(8, 0)});
  write_safetensors(dir / "model.safetensors", w.tensors);
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_EQ(ck.summary().unexpected, std::vector<std::string>{"layers.0.extra.weight"});
  EXPECT_FALSE(ck.summary().mtp_available);
  EXPECT_NE(ck.summary().mtp_note.find("mtp.0.e_proj.weight"), std::string::npos) << ck.summary().mtp_note;
}

TEST(Checkpoint, UnknownTensorNameIsAnErrorNamingIt) {
  const auto dir = fresh_dir("unknown_name");
  write_tiny(dir, false);
  const Checkpoint ck = Checkpoint::open(dir);
  try {
    ck.info("layers.99.attn.wq_a.weight");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.99.attn.wq_a.weight"), std::string::npos);
  }
}

// Every committed checkpoint: the reference fixtures and the bundled models.
TEST(Checkpoint, OpensEveryCommittedFixture) {
  int opened = 0;
  for (const char* folder : {"tests/fixtures", "models"}) {
    const std::filesystem::path root = std::filesystem::path(BALEEN_SOURCE_DIR) / folder;
    if (!std::filesystem::is_directory(root)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.path().filename() != "config.json") continue;
      const auto dir = entry.path().parent_path();
      bool has_weights = false;
      for (const auto& f : std::filesystem::directory_iterator(dir)) {
        has_weights = has_weights || f.path().extension() == ".safetensors";
      }
      if (!has_weights) continue;
      SCOPED_TRACE(dir.string());
      const Checkpoint ck = Checkpoint::open(dir);
      for (const auto& name : ck.names()) {
        EXPECT_EQ(count_non_finite(ck.info(name)), 0u) << name;
        const Tensor t = ck.load_f32(name);
        for (float v : t.values()) ASSERT_TRUE(std::isfinite(v)) << name;
      }
      ++opened;
    }
  }
  if (opened == 0) GTEST_SKIP() << "no committed checkpoints";
  std::printf("opened and dequantized %d committed checkpoints\n", opened);
}

}  // namespace
}  // namespace baleen
