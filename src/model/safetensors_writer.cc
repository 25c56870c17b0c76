#include "model/safetensors_writer.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/safetensors.h"

namespace baleen {

std::string safetensors_header(const std::vector<TensorSpec>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const uint64_t n = dtype_bytes(t.dtype, t.shape, "tensor '" + t.name + "'");
    check(!header.contains(t.name), "tensor '{}' is listed twice", t.name);
    header[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  return out + text;
}

uint64_t safetensors_file_size(const std::vector<TensorSpec>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  uint64_t size = safetensors_header(tensors, metadata).size();
  for (const auto& t : tensors) size += dtype_bytes(t.dtype, t.shape, t.name);
  return size;
}

SafetensorsWriter::SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tensors_(std::move(tensors)) {
  check(!tensors_.empty(), "{}: a safetensors file needs at least one tensor", path_.string());
  const std::string header = safetensors_header(tensors_, metadata);
  uint64_t end = 0;
  for (const auto& t : tensors_) ends_.push_back(end += dtype_bytes(t.dtype, t.shape, t.name));
  partial_ = path_;
  partial_ += ".partial";
  file_ = std::fopen(partial_.c_str(), "wb");
  check(file_ != nullptr, "{}: cannot open for writing: {}", partial_.string(), std::strerror(errno));
  check(std::fwrite(header.data(), 1, header.size(), file_) == header.size(), "{}: write failed: {}",
        partial_.string(), std::strerror(errno));
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::error_code ignored;
  std::filesystem::remove(partial_, ignored);
}

void SafetensorsWriter::append(std::span<const uint8_t> bytes) {
  check(file_ != nullptr, "{}: already finished", path_.string());
  check(written_ + bytes.size() <= ends_.back(), "{}: {} bytes past the end of tensor '{}'", path_.string(),
        written_ + bytes.size() - ends_.back(), tensors_.back().name);
  check(bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size(),
        "{}: write failed: {}", partial_.string(), std::strerror(errno));  // an empty span may have no data()
  written_ += bytes.size();
  while (next_ + 1 < tensors_.size() && written_ >= ends_[next_]) ++next_;
}

void SafetensorsWriter::finish() {
  check(written_ == ends_.back(), "{}: tensor '{}' has {} of its bytes missing", path_.string(),
        tensors_[next_].name, ends_.back() - written_);
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  check(flushed && closed, "{}: write failed: {}", partial_.string(), std::strerror(errno));
  std::filesystem::rename(partial_, path_);
}

namespace {

std::vector<TensorSpec> specs(const std::vector<SafetensorsTensor>& tensors) {
  std::vector<TensorSpec> out;
  for (const auto& t : tensors) {
    const uint64_t want = dtype_bytes(t.dtype, t.shape, "tensor '" + t.name + "'");
    check(t.bytes.size() == want, "tensor '{}': {} bytes given, dtype × shape needs {}", t.name,
          t.bytes.size(), want);
    out.push_back({t.name, t.dtype, t.shape});
  }
  return out;
}

}  // namespace

std::vector<uint8_t> serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  const std::string header = safetensors_header(specs(tensors), metadata);
  std::vector<uint8_t> out(header.begin(), header.end());
  for (const auto& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter writer(path, specs(tensors), metadata);
  for (const auto& t : tensors) writer.append(t.bytes);
  writer.finish();
}

}  // namespace baleen
