// Timing and allocation helpers of the GPU benchmarks: device time per launch over CUDA-graph replays,
// the read bandwidth floor, and random device buffers. Exits with a message on any CUDA error.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace baleen::bench {

void check(cudaError_t e, const char* what);

// A device allocation freed at exit of scope.
struct DeviceBytes {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBytes(size_t n);
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  ~DeviceBytes();
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

// Fills with random bytes (any byte pattern) or with N(0, stddev) floats.
void fill_random_bytes(DeviceBytes& d, std::mt19937& rng);
void fill_random_floats(DeviceBytes& d, std::mt19937& rng, float stddev = 1.0f);
void upload(DeviceBytes& d, const void* host, size_t bytes);

// Captures `launches` calls of launch(stream, i) in a graph and returns the median device microseconds
// per call over several replays (after a warm-up replay).
double time_per_call_us(const std::function<void(cudaStream_t, int)>& launch, int launches);

// Streaming read bandwidth of the device in bytes/s (a 4 GiB buffer read by a vectorized kernel).
double measure_read_bandwidth();

int multiprocessors();

}  // namespace baleen::bench
