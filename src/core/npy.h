// NumPy .npy files (format 1.0–3.0), the little subset baleen exchanges: int32 1-D (token ids) and float32
// 2-D (logits), little-endian, C order. Anything else is an Error that names the file and what was found.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace baleen {

std::vector<int32_t> read_npy_int32(const std::filesystem::path& path);
Tensor read_npy_float32(const std::filesystem::path& path);  // 2-D

void write_npy_int32(const std::filesystem::path& path, std::span<const int32_t> values);
void write_npy_float32(const std::filesystem::path& path, const Tensor& matrix);  // 2-D

}  // namespace baleen
