// Device allocations the CUDA backend owns: a checked cudaMalloc'd buffer (freed on destruction), the
// queue its host code uploads small inputs through, and the error check it uses. Host-side C++; needs the
// CUDA runtime, no nvcc.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <algorithm>
#include <cstring>
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

// The backend's stream and a pinned staging area for host-to-device copies of small inputs (step inputs,
// key descriptors, page tables). A copy from pageable memory waits for the stream to drain, which would
// stall the GPU once per copy; from pinned memory it is queued like a kernel. Staged bytes stay untouched
// until reset(), which waits for every queued copy first: call it between steps.
class DeviceQueue {
 public:
  explicit DeviceQueue(cudaStream_t stream) : stream_(stream) {}
  DeviceQueue(const DeviceQueue&) = delete;
  DeviceQueue& operator=(const DeviceQueue&) = delete;
  ~DeviceQueue() {
    cudaStreamSynchronize(stream_);
    cudaFreeHost(stage_);
  }

  cudaStream_t stream() const { return stream_; }
  // Queues dst ← src (bytes on the host, copied now into the staging area).
  void upload(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    if (bytes > kLargest) {  // weights at load: straight from pageable memory (ordered on the stream all the same)
      check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
      return;
    }
    const size_t at = (used_ + 15) / 16 * 16;
    if (at + bytes > capacity_) {  // full: once its copies are done, reuse it (or a larger one)
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      if (bytes > capacity_) {
        cudaFreeHost(stage_);
        capacity_ = std::max(2 * capacity_, bytes + (size_t{1} << 20));
        check_cuda(cudaMallocHost(&stage_, capacity_), "cudaMallocHost");
      }
      used_ = 0;
      upload(dst, src, bytes);
      return;
    }
    std::memcpy(static_cast<char*>(stage_) + at, src, bytes);
    check_cuda(cudaMemcpyAsync(dst, static_cast<char*>(stage_) + at, bytes, cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync");
    used_ = at + bytes;
  }
  void reset() {
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    used_ = 0;
  }

 private:
  static constexpr size_t kLargest = size_t{8} << 20;  // bytes staged at most
  cudaStream_t stream_;
  void* stage_ = nullptr;
  size_t capacity_ = 0, used_ = 0;
};

}  // namespace baleen::cuda
