// Reading one .safetensors file (model/safetensors_writer.h writes them). open() memory-maps the file
// read-only and validates the whole header before anything is used: 8-byte length inside the file,
// well-formed JSON object, every entry with a known dtype, a shape and data_offsets inside the data area,
// entries not overlapping, and byte size == product(shape) × dtype size. Any violation throws Error
// naming the file and tensor.
// A SafetensorsFile is immutable after open and safe to read from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace baleen {

// One tensor's header entry. Offsets are relative to the start of the data area.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;

  uint64_t nbytes() const { return end - begin; }
};

// The validated header of a complete safetensors file held in `file` (all of its bytes); `origin`
// names the file in errors. Entries come back sorted by name. Throws Error on any violation.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_offset = 0;                     // 8 + header length
};
SafetensorsHeader parse_safetensors(std::span<const uint8_t> file, const std::string& origin);

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return header_.entries; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  uint64_t file_size() const { return size_; }
  // nullptr when absent.
  const SafetensorsEntry* find(const std::string& name) const;
  // The entry's bytes inside the mapping; valid as long as this object lives.
  const uint8_t* data(const SafetensorsEntry& entry) const {
    return base_ + header_.data_offset + entry.begin;
  }

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  SafetensorsHeader header_;
};

// Number of elements in `shape` and the bytes they take in `dtype`; throws Error (naming `what`)
// on overflow or a size that is not a whole number of bytes.
uint64_t shape_elements(const std::vector<int64_t>& shape, const std::string& what);
uint64_t dtype_bytes(DType dtype, const std::vector<int64_t>& shape, const std::string& what);

}  // namespace baleen
