// What the CUDA kernel tests share: a fixture that skips without a device, owning device buffers,
// host-side FP8/FP4 block quantization (the formats' rules, from core/dtype.h) and dequantization.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"

namespace baleen::test {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) GTEST_SKIP() << "no CUDA device";
  }
};

// A device allocation of n T's; freed on destruction.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (cudaMalloc(&data_, std::max<size_t>(n, 1) * sizeof(T)) != cudaSuccess) data_ = nullptr;
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  T* get() const { return data_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    cudaMemcpy(data_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice);
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    cudaMemcpy(host.data(), data_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }
  // Every byte 0xFF (a NaN for floats), so an element a kernel failed to write shows up.
  void poison() { cudaMemset(data_, 0xFF, n_ * sizeof(T)); }

 private:
  T* data_ = nullptr;
  size_t n_ = 0;
};

// Waits for the device and reports the first error of the launches before.
inline ::testing::AssertionResult synced(cudaError_t launch) {
  if (launch != cudaSuccess) return ::testing::AssertionFailure() << "launch: " << cudaGetErrorString(launch);
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) return ::testing::AssertionFailure() << "kernel: " << cudaGetErrorString(e);
  return ::testing::AssertionSuccess();
}

// The exponent of the smallest power of two ≥ v (v > 0), clamped to ue8m0's range.
inline int pow2_ceil_exponent(float v) {
  int e = 0;
  const float m = std::frexp(v, &e);
  return std::clamp(m == 0.5f ? e - 1 : e, -127, 127);
}

// The reference's act_quant with ue8m0 scales on one block: codes and the scale exponent.
inline int quantize_fp8_block(const float* x, int64_t n, uint8_t* codes) {
  float amax = 1e-4f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const int e = pow2_ceil_exponent(amax / kFp8E4M3Max);
  const float inv = std::ldexp(1.0f, -e);
  for (int64_t i = 0; i < n; ++i) codes[i] = f32_to_fp8_e4m3(x[i] * inv);
  return e;
}

// Random e4m3 codes of N(0,1) values (never NaN).
inline std::vector<uint8_t> random_e4m3(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint8_t> codes(n);
  for (auto& c : codes) c = f32_to_fp8_e4m3(dist(rng) * 64.0f);
  return codes;
}

// Random packed e2m1 pairs (every nibble value equally likely).
inline std::vector<uint8_t> random_e2m1_pairs(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> codes(n);
  for (auto& c : codes) c = static_cast<uint8_t>(byte(rng));
  return codes;
}

// Random ue8m0 scales 2^(lo−127) … 2^(hi−127).
inline std::vector<uint8_t> random_ue8m0(size_t n, std::mt19937& rng, int lo, int hi) {
  std::uniform_int_distribution<int> e(lo, hi);
  std::vector<uint8_t> s(n);
  for (auto& v : s) v = static_cast<uint8_t>(e(rng));
  return s;
}

}  // namespace baleen::test
