// Device allocations the CUDA backend owns: a checked cudaMalloc'd buffer (freed on destruction) and the
// error check its host code uses. Host-side C++; needs the CUDA runtime, no nvcc.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "core/error.h"

namespace baleen::cuda {

inline void check_cuda(cudaError_t status, const char* what) {
  check(status == cudaSuccess, "cuda: {}: {}", what, cudaGetErrorString(status));
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    check_cuda(cudaMalloc(&data_, bytes == 0 ? 1 : bytes), "cudaMalloc");
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      cudaFree(data_);
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  template <typename T = void>
  T* get() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }
  // Grows (contents lost) to at least `bytes`.
  void reserve(size_t bytes) {
    if (bytes > bytes_) *this = DeviceBuffer(bytes);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace baleen::cuda
