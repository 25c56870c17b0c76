// Writing .safetensors files. SafetensorsWriter streams one file: the header (every tensor's name, dtype
// and shape) first, then the tensors' bytes in header order as the caller produces them, so a file far
// larger than memory can be written. It writes "<path>.partial" and renames it to <path> in finish(), so an
// interrupted writer never leaves a file under the final name. write_safetensors does the same for
// tensors held in memory. Everything throws Error naming the file and tensor.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace baleen {

// A tensor's header entry: its data follows the previous tensor's.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};

// The 8-byte length and the JSON header (padded to 8 bytes) of a file holding `tensors` in this order.
std::string safetensors_header(const std::vector<TensorSpec>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
// Header + data bytes of that file.
uint64_t safetensors_file_size(const std::vector<TensorSpec>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();  // unfinished: removes the partial file
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // The next bytes of the data area (of the current tensor and on); more than the tensors hold is an error.
  void append(std::span<const uint8_t> bytes);
  // The tensor whose bytes come next (the last one once all are written).
  const TensorSpec& current() const { return tensors_[next_]; }
  // Every byte written: flush, close, rename to the final path.
  void finish();

 private:
  std::filesystem::path path_, partial_;
  std::vector<TensorSpec> tensors_;
  std::vector<uint64_t> ends_;  // data offset where each tensor ends
  size_t next_ = 0;             // the tensor being written
  uint64_t written_ = 0;        // data bytes written
  std::FILE* file_ = nullptr;
};

// A tensor to write from memory: raw little-endian bytes whose size must match dtype × shape.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// The bytes of a safetensors file holding `tensors` in the given order.
std::vector<uint8_t> serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                           const std::map<std::string, std::string>& metadata = {});
void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace baleen
