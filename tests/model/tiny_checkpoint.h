// Test support: a tiny random DeepSeek-V4 checkpoint written in the test itself (official or transformers
// names, FP8 / FP4 quantized the way the official release is), with the float64 values it encodes.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"
#include "model/layout.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace baleen::testing {

// Sizes chosen so FP8 128×128 blocks do not divide them (partial edge blocks) and every layer kind,
// both routings, a small HCA ratio and one MTP block appear.
inline nlohmann::json tiny_config(bool quantized) {
  nlohmann::json j = {
      {"architectures", {"DeepseekV4ForCausalLM"}},
      {"model_type", "deepseek_v4"},
      {"vocab_size", 96},
      {"hidden_size", 160},
      {"num_hidden_layers", 4},
      {"num_attention_heads", 2},
      {"num_key_value_heads", 1},
      {"head_dim", 48},
      {"qk_rope_head_dim", 16},
      {"q_lora_rank", 136},
      {"o_groups", 2},
      {"o_lora_rank", 24},
      {"sliding_window", 8},
      {"index_n_heads", 2},
      {"index_head_dim", 32},
      {"index_topk", 3},
      {"n_routed_experts", 4},
      {"num_experts_per_tok", 2},
      {"n_shared_experts", 1},
      {"moe_intermediate_size", 72},
      {"scoring_func", "sqrtsoftplus"},
      {"routed_scaling_factor", 1.5},
      {"swiglu_limit", 10.0},
      {"hc_mult", 2},
      {"hc_sinkhorn_iters", 20},
      {"hc_eps", 1e-6},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000},
      {"compress_rope_theta", 160000},
      {"rope_scaling",
       {{"type", "yarn"},
        {"factor", 4},
        {"original_max_position_embeddings", 64},
        {"beta_fast", 32},
        {"beta_slow", 1}}},
      {"num_hash_layers", 1},
      {"num_nextn_predict_layers", 1},
      {"compress_ratios", {0, 4, 8, 4, 0}},
  };
  if (quantized) {
    j["expert_dtype"] = "fp4";
    j["quantization_config"] = {
        {"quant_method", "fp8"}, {"fmt", "e4m3"}, {"scale_fmt", "ue8m0"}, {"weight_block_size", {128, 128}}};
  }
  return j;
}

// The smallest power of two >= x (an ue8m0 scale), as its biased exponent byte.
inline uint8_t ue8m0_at_least(double x) {
  const int e = x > 0 ? static_cast<int>(std::ceil(std::log2(x))) : -127;
  return static_cast<uint8_t>(std::clamp(e + 127, 0, 254));
}

struct Written {
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, std::vector<double>> truth;  // canonical name -> value each element encodes
  std::map<std::string, std::vector<double>>
      original;  // quantized weights: the float64 values before quantizing
};

class TinyWriter {
 public:
  explicit TinyWriter(uint32_t seed) : rng_(seed) {}

  Written write_all(const Config& c) {
    Written w;
    for (const auto& t : expected_tensors(c)) add(c, t, w);
    return w;
  }

  void add(const Config& c, const ExpectedTensor& t, Written& w) {
    std::vector<double> values(static_cast<size_t>(shape_elements(t.shape, t.name)));
    std::normal_distribution<double> normal(0.0, 0.5);
    for (auto& v : values) v = normal(rng_);
    switch (t.official) {
      case DType::kF8E4M3:
        return fp8(c, t, values, w);
      case DType::kF4E2M1x2:
        return fp4(c, t, values, w);
      case DType::kI64:
        return table(c, t, w);
      default:
        return plain(t, values, w);
    }
  }

 private:
  void plain(const ExpectedTensor& t, const std::vector<double>& values, Written& w) {
    SafetensorsTensor s{t.name, t.official, t.shape, {}};
    std::vector<double> truth;
    for (double v : values) {
      if (t.official == DType::kF32) {
        const auto f = static_cast<float>(v);
        append(s.bytes, &f, 4);
        truth.push_back(f);
      } else {
        const uint16_t b = f32_to_bf16(static_cast<float>(v));
        append(s.bytes, &b, 2);
        truth.push_back(bf16_to_f32(b));
      }
    }
    w.tensors.push_back(std::move(s));
    w.truth[t.name] = truth;
  }

  void table(const Config& c, const ExpectedTensor& t, Written& w) {
    SafetensorsTensor s{t.name, DType::kI64, t.shape, {}};
    std::uniform_int_distribution<int64_t> expert(0, c.n_routed_experts - 1);
    std::vector<double> truth;
    for (uint64_t i = 0; i < shape_elements(t.shape, t.name); ++i) {
      const int64_t e = expert(rng_);
      append(s.bytes, &e, 8);
      truth.push_back(static_cast<double>(e));
    }
    w.tensors.push_back(std::move(s));
    w.truth[t.name] = truth;
  }

  // Official FP8: one ue8m0 scale per block_out × block_in block (edge blocks partial), value = e4m3 × scale.
  void fp8(const Config& c, const ExpectedTensor& t, const std::vector<double>& values, Written& w) {
    const int64_t rows = t.shape[0], cols = t.shape[1], bo = c.quant.block_out, bi = c.quant.block_in;
    const int64_t sr = (rows + bo - 1) / bo, sc = (cols + bi - 1) / bi;
    std::vector<uint8_t> scales(static_cast<size_t>(sr * sc));
    for (int64_t br = 0; br < sr; ++br) {
      for (int64_t bc = 0; bc < sc; ++bc) {
        double amax = 0;
        for (int64_t r = br * bo; r < std::min(rows, (br + 1) * bo); ++r) {
          for (int64_t k = bc * bi; k < std::min(cols, (bc + 1) * bi); ++k) {
            amax = std::max(amax, std::fabs(values[static_cast<size_t>(r * cols + k)]));
          }
        }
        scales[static_cast<size_t>(br * sc + bc)] = ue8m0_at_least(amax / 448.0);
      }
    }
    SafetensorsTensor s{t.name, DType::kF8E4M3, t.shape, {}};
    std::vector<double> truth;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < cols; ++k) {
        const double scale = std::ldexp(1.0, scales[static_cast<size_t>((r / bo) * sc + k / bi)] - 127);
        const uint8_t q =
            f32_to_fp8_e4m3(static_cast<float>(values[static_cast<size_t>(r * cols + k)] / scale));
        s.bytes.push_back(q);
        truth.push_back(fp8_e4m3_to_f32(q) * scale);
      }
    }
    finish(t, s, truth, values, {sr, sc}, scales, w);
  }

  // Official FP4: e2m1 pairs, element 2i in the low nibble, one ue8m0 scale per 32 inputs of a row.
  void fp4(const Config& c, const ExpectedTensor& t, const std::vector<double>& values, Written& w) {
    const int64_t rows = t.shape[0], cols = t.shape[1], block = c.quant.fp4_block;
    const int64_t sc = (cols + block - 1) / block;
    std::vector<uint8_t> scales(static_cast<size_t>(rows * sc));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < sc; ++b) {
        double amax = 0;
        for (int64_t k = b * block; k < std::min(cols, (b + 1) * block); ++k) {
          amax = std::max(amax, std::fabs(values[static_cast<size_t>(r * cols + k)]));
        }
        scales[static_cast<size_t>(r * sc + b)] = ue8m0_at_least(amax / 6.0);
      }
    }
    SafetensorsTensor s{t.name, DType::kI8, {rows, cols / 2}, {}};
    std::vector<double> truth;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < cols; k += 2) {
        uint8_t byte = 0;
        for (int64_t j = 0; j < 2; ++j) {
          const double scale = std::ldexp(1.0, scales[static_cast<size_t>(r * sc + (k + j) / block)] - 127);
          const uint8_t q =
              f32_to_fp4_e2m1(static_cast<float>(values[static_cast<size_t>(r * cols + k + j)] / scale));
          byte |= static_cast<uint8_t>(q << (4 * j));
          truth.push_back(fp4_e2m1_to_f32(q) * scale);
        }
        s.bytes.push_back(byte);
      }
    }
    finish(t, s, truth, values, {rows, sc}, scales, w);
  }

  void finish(const ExpectedTensor& t, SafetensorsTensor& s, const std::vector<double>& truth,
              const std::vector<double>& values, std::vector<int64_t> scale_shape,
              const std::vector<uint8_t>& scales, Written& w) {
    w.tensors.push_back(std::move(s));
    w.tensors.push_back({scale_name(t.name), DType::kUE8M0, std::move(scale_shape), scales});
    w.truth[t.name] = truth;
    w.original[t.name] = values;
  }

  static void append(std::vector<uint8_t>& out, const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }

  std::mt19937 rng_;
};

inline void write_config(const std::filesystem::path& dir, const nlohmann::json& config) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
}

// A fresh, empty directory under the test temp dir.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("baleen_model_test_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace baleen::testing
