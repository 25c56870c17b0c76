#include "model/checkpoint.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/safetensors.h"
#include "model/shard_index.h"

namespace baleen {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_float(DType t) {
  return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

float element(const uint8_t* data, DType type, size_t i) {
  switch (type) {
    case DType::kF32: {
      float v;
      std::memcpy(&v, data + 4 * i, 4);
      return v;
    }
    case DType::kBF16:
    case DType::kF16: {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      return type == DType::kBF16 ? bf16_to_f32(v) : f16_to_f32(v);
    }
    case DType::kF8E4M3:
      return fp8_e4m3_to_f32(data[i]);
    case DType::kUE8M0:
      return ue8m0_to_f32(data[i]);
    case DType::kI8:
      return static_cast<float>(static_cast<int8_t>(data[i]));
    case DType::kU8:
      return static_cast<float>(data[i]);
    case DType::kI32: {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      return static_cast<float>(v);
    }
    case DType::kI64: {
      int64_t v;
      std::memcpy(&v, data + 8 * i, 8);
      return static_cast<float>(v);
    }
    case DType::kF4E2M1x2:
      return fp4_e2m1_to_f32(i % 2 == 0 ? data[i / 2] & 0xF : data[i / 2] >> 4);
  }
  return 0.0f;
}

// element() over a whole tensor, with the dtype dispatch hoisted out of the loop for the common formats.
void convert(const uint8_t* data, DType type, size_t n, float* out) {
  if (type == DType::kF32) {
    std::memcpy(out, data, 4 * n);
  } else if (type == DType::kBF16) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      out[i] = bf16_to_f32(v);
    }
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = element(data, type, i);
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

std::pair<int64_t, int64_t> scale_block(const std::vector<int64_t>& weight, const std::vector<int64_t>& scale,
                                        std::pair<int64_t, int64_t> preferred, const std::string& what) {
  check(weight.size() == 2 && scale.size() == 2, "{}: scale {} for weight {} must both be 2-D", what,
        shape_text(scale), shape_text(weight));
  check(scale[0] > 0 && scale[1] > 0 && scale[0] <= std::max<int64_t>(weight[0], 1) &&
            scale[1] <= std::max<int64_t>(weight[1], 1),
        "{}: scale shape {} does not fit weight {}", what, shape_text(scale), shape_text(weight));
  std::pair<int64_t, int64_t> block = preferred;
  if (block.first <= 0 || block.second <= 0) {
    block = {ceil_div(weight[0], scale[0]), ceil_div(weight[1], scale[1])};
  }
  check(ceil_div(weight[0], block.first) == scale[0] && ceil_div(weight[1], block.second) == scale[1],
        "{}: scale shape {} does not match weight {} in {}×{} blocks (expected [{}, {}])", what,
        shape_text(scale), shape_text(weight), block.first, block.second, ceil_div(weight[0], block.first),
        ceil_div(weight[1], block.second));
  return block;
}

uint64_t count_non_finite(const TensorInfo& t) {
  uint64_t bad = 0;
  switch (t.dtype) {
    case DType::kF32:
      for (size_t i = 0; i < t.nbytes / 4; ++i) {
        uint32_t v;
        std::memcpy(&v, t.data + 4 * i, 4);
        bad += (v & 0x7F800000u) == 0x7F800000u;
      }
      return bad;
    case DType::kBF16:
    case DType::kF16: {
      const uint16_t exponent = t.dtype == DType::kBF16 ? 0x7F80 : 0x7C00;
      for (size_t i = 0; i < t.nbytes / 2; ++i) {
        uint16_t v;
        std::memcpy(&v, t.data + 2 * i, 2);
        bad += (v & exponent) == exponent;
      }
      return bad;
    }
    case DType::kF8E4M3:
      for (size_t i = 0; i < t.nbytes; ++i) bad += (t.data[i] & 0x7F) == 0x7F;
      return bad;
    case DType::kUE8M0:
      for (size_t i = 0; i < t.nbytes; ++i) bad += t.data[i] == 0xFF;
      return bad;
    default:
      return 0;
  }
}

void dequantize_fp8(const uint8_t* values, const TensorInfo& scale, int64_t rows, int64_t cols,
                    int64_t block_rows, int64_t block_cols, float* out) {
  const int64_t scale_cols = ceil_div(cols, block_cols);
  for (int64_t r = 0; r < rows; ++r) {
    const size_t scale_row = static_cast<size_t>((r / block_rows) * scale_cols);
    for (int64_t c = 0; c < cols; ++c) {
      const float s = element(scale.data, scale.dtype, scale_row + static_cast<size_t>(c / block_cols));
      out[r * cols + c] = fp8_e4m3_to_f32(values[r * cols + c]) * s;
    }
  }
}

void dequantize_fp4(const uint8_t* packed, const TensorInfo& scale, int64_t rows, int64_t cols,
                    int64_t block_cols, float* out) {
  const int64_t scale_cols = ceil_div(cols, block_cols);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = packed + r * (cols / 2);
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t byte = row[c / 2];
      const float v = fp4_e2m1_to_f32(c % 2 == 0 ? byte & 0xF : byte >> 4);  // element 2i in the low nibble
      out[r * cols + c] =
          v * element(scale.data, scale.dtype, static_cast<size_t>(r * scale_cols + c / block_cols));
    }
  }
}

Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint Checkpoint::open(const std::filesystem::path& dir) {
  Checkpoint ck;
  ck.dir_ = dir;
  ck.config_ = load_config(dir);
  const ShardIndex shards = read_shard_index(dir);
  uint64_t total = 0;
  for (const auto& f : shards.files) total += std::filesystem::file_size(f);
  Progress progress(fmt::format("opening {}", dir.string()), total);
  std::vector<const SafetensorsFile*> opened;
  for (const auto& f : shards.files) {
    ck.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(f)));
    opened.push_back(ck.files_.back().get());
    ck.summary_.files.push_back(f);
    progress.advance(ck.files_.back()->file_size());
  }
  progress.finish();
  check_shard_contents(shards, opened);
  for (const auto& f : ck.files_) ck.index(*f);
  ck.validate();
  return ck;
}

// Registers a file's tensors under canonical names; transformers' fused expert tensors become one
// contiguous slice per expert.
void Checkpoint::index(const SafetensorsFile& file) {
  const std::string fname = file.path().filename().string();
  auto add = [&](TensorInfo t, const std::string& stored) {
    const std::string where = fmt::format("{}: {}", fname, stored);
    auto [it, inserted] = stored_names_.emplace(t.name, where);
    check(inserted, "{}: tensor '{}' is stored twice: as {} and as {}", dir_.string(), t.name, it->second,
          where);
    tensors_.emplace(t.name, std::move(t));
  };
  for (const auto& e : file.entries()) {
    const std::string name = canonical_name(e.name);
    const bool gate_up = ends_with(name, ".ffn.experts.gate_up_proj");
    if (!gate_up && !ends_with(name, ".ffn.experts.down_proj")) {
      add({name, e.dtype, e.shape, file.data(e), e.nbytes()}, e.name);
      continue;
    }
    check(e.shape.size() == 3 && is_float(e.dtype) && (!gate_up || e.shape[1] % 2 == 0),
          "{}: fused expert tensor '{}' {} {}: expected a floating [E, 2F, D] / [E, D, F] tensor (quantized "
          "fused "
          "experts are not implemented)",
          fname, e.name, dtype_name(e.dtype), shape_text(e.shape));
    const std::string prefix = name.substr(0, name.rfind('.') + 1);  // "layers.N.ffn.experts."
    const size_t elem = static_cast<size_t>(dtype_bits(e.dtype) / 8);
    const int64_t rows = gate_up ? e.shape[1] / 2 : e.shape[1], cols = e.shape[2];
    const size_t part = static_cast<size_t>(rows * cols) * elem;
    for (int64_t x = 0; x < e.shape[0]; ++x) {
      const uint8_t* base = file.data(e) + static_cast<size_t>(x) * (gate_up ? 2 : 1) * part;
      const std::string stored = fmt::format("{}[{}]", e.name, x);
      if (gate_up) {
        add({fmt::format("{}{}.w1.weight", prefix, x), e.dtype, {rows, cols}, base, part}, stored);
        add({fmt::format("{}{}.w3.weight", prefix, x), e.dtype, {rows, cols}, base + part, part}, stored);
      } else {
        add({fmt::format("{}{}.w2.weight", prefix, x), e.dtype, {rows, cols}, base, part}, stored);
      }
    }
  }
}

bool Checkpoint::has(std::string_view name) const {
  return tensors_.count(std::string(name)) > 0;
}

const TensorInfo& Checkpoint::info(std::string_view name) const {
  auto it = tensors_.find(std::string(name));
  check(it != tensors_.end(), "{}: no tensor '{}' in the checkpoint", dir_.string(), name);
  return it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

WeightView Checkpoint::stored_weight(std::string_view name) const {
  const TensorInfo& t = info(name);
  check(t.shape.size() == 2, "{}: tensor '{}' is not a 2-D weight", dir_.string(), name);
  WeightView w{t.dtype, t.data, t.shape[0], t.shape[1]};
  const std::string scale = scale_name(name);
  if (t.dtype != DType::kF4E2M1x2 && !(t.dtype == DType::kF8E4M3 && has(scale))) return w;
  auto block = blocks_.find(t.name);
  check(has(scale) && block != blocks_.end(), "{}: quantized tensor '{}' has no validated scale '{}'",
        dir_.string(), name, scale);
  const TensorInfo& s = info(scale);
  w.scales = s.data;
  w.scale_dtype = s.dtype;
  w.block_rows = block->second.first;
  w.block_cols = block->second.second;
  return w;
}

uint64_t Checkpoint::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  auto mix = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ull;
  };
  for (const std::string& name : names()) {
    const TensorInfo& t = tensors_.at(name);
    mix(name.data(), name.size());
    mix(&t.dtype, sizeof t.dtype);
    mix(t.shape.data(), t.shape.size() * sizeof(int64_t));
    const size_t n = std::min<size_t>(64, t.nbytes);
    for (size_t at : {size_t{0}, (t.nbytes - n) / 2, t.nbytes - n}) mix(t.data + at, n);
  }
  return h;
}

Tensor Checkpoint::load_f32(std::string_view name) const {
  const TensorInfo& t = info(name);
  Tensor out(t.shape);
  const std::string scale = scale_name(name);
  const bool quantized = t.dtype == DType::kF4E2M1x2 || (t.dtype == DType::kF8E4M3 && has(scale));
  if (!quantized) {
    convert(t.data, t.dtype, out.values().size(), out.data());
    return out;
  }
  check(t.shape.size() == 2 && has(scale), "{}: quantized tensor '{}' has no scale '{}'", dir_.string(), name,
        scale);
  auto block = blocks_.find(t.name);
  check(block != blocks_.end(), "{}: tensor '{}' was not validated as a quantized weight", dir_.string(),
        name);
  const TensorInfo& s = info(scale);
  if (t.dtype == DType::kF8E4M3) {
    dequantize_fp8(t.data, s, t.shape[0], t.shape[1], block->second.first, block->second.second, out.data());
  } else {
    dequantize_fp4(t.data, s, t.shape[0], t.shape[1], block->second.second, out.data());
  }
  return out;
}

}  // namespace baleen
