// A DeepSeek-V4 checkpoint directory (config.json + one or many .safetensors), memory-mapped and fully
// validated at open(): every header, the shard index, and every tensor the config implies (present, right
// shape, allowed dtype, scale companion) — all problems reported in one Error. Tensors are addressed by
// their canonical (official) names (model/layout.h), whatever layout the files use. Read-only after open;
// safe to use from several threads. TensorInfo pointers stay valid while the Checkpoint lives.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/weight_view.h"
#include "model/config.h"
#include "model/layout.h"

namespace baleen {

// One stored tensor under its canonical name. `shape` is the logical element shape: FP4 experts stored as
// I8 [out, in/2] appear as kF4E2M1x2 [out, in] (two elements per byte, element 2i in the low nibble).
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

// What open() found, for `baleen inspect`.
struct CheckpointSummary {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> unexpected;  // stored tensors no rule expects (listed, not fatal)
  std::string mtp_note;                 // why mtp.* was skipped, when it was
  bool mtp_available = false;
};

class SafetensorsFile;

class Checkpoint {
 public:
  static Checkpoint open(
      const std::filesystem::path& dir);  // config + all headers + validation; throws Error

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const Config& config() const { return config_; }
  const CheckpointSummary& summary() const { return summary_; }
  bool has(std::string_view name) const;                // canonical (official) names
  const TensorInfo& info(std::string_view name) const;  // throws Error naming the tensor
  // A dequantized fp32 copy in the logical shape: F32, BF16, F16, integer tables, FP8 e4m3 × block scales,
  // FP4 e2m1 × per-32 ue8m0 scales, and scale tensors themselves.
  Tensor load_f32(std::string_view name) const;
  // A 2-D weight as stored, with its scale companion when quantized: a view into the mapped files, valid
  // while the Checkpoint lives. Throws Error naming the tensor when it is not 2-D.
  WeightView stored_weight(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted
  // A 64-bit fingerprint of the weights: every tensor's name, dtype and shape and a sample of its bytes
  // (both ends and the middle), so checkpoints of one shape but other values differ. Reads ~200 bytes a
  // tensor.
  uint64_t fingerprint() const;

 private:
  Checkpoint() = default;
  void index(const SafetensorsFile& file);
  void validate();

  std::filesystem::path dir_;
  Config config_;
  CheckpointSummary summary_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, TensorInfo> tensors_;
  std::unordered_map<std::string, std::string> stored_names_;            // canonical -> "file: stored name"
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> blocks_;  // quantized weight -> scale block
};

// The block shape {rows, cols} one scale value covers when a 2-D `weight` (logical shape) is dequantized
// with `scale` (shape [ceil(rows/br), ceil(cols/bc)]): `preferred` (from the config) when given, else the
// smallest blocks consistent with both shapes. Throws Error naming `what` when the shapes disagree.
std::pair<int64_t, int64_t> scale_block(const std::vector<int64_t>& weight, const std::vector<int64_t>& scale,
                                        std::pair<int64_t, int64_t> preferred, const std::string& what);

// Number of NaN / infinite values a tensor stores (F32, BF16, F16, F8_E4M3 NaN codes, F8_E8M0 0xFF); integer
// and FP4 tensors have none. Reads every byte of the tensor.
uint64_t count_non_finite(const TensorInfo& tensor);

// Dequantization of one weight into `out` (rows × cols floats, row-major); exposed for the tests.
void dequantize_fp8(const uint8_t* values, const TensorInfo& scale, int64_t rows, int64_t cols,
                    int64_t block_rows, int64_t block_cols, float* out);
void dequantize_fp4(const uint8_t* packed, const TensorInfo& scale, int64_t rows, int64_t cols,
                    int64_t block_cols, float* out);

}  // namespace baleen
