// Where a step's GPU time goes, by backend op: on when BALEEN_CUDA_PROFILE is set, off (and free) otherwise.
// An event is recorded on the stream after each op; at each wait for the device the time between an op's
// event and the one before it is added to that op. That gap also holds any time the GPU sat idle waiting
// for the host to launch the op, so the host time between the same two calls is reported beside it: where
// the two agree, the op is launch-bound, not kernel-bound. The table goes to stderr when the backend ends.
// Host-side C++; needs the CUDA runtime, no nvcc.
#pragma once

#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace baleen::cuda {

class OpProfile {
 public:
  OpProfile() : on_(std::getenv("BALEEN_CUDA_PROFILE") != nullptr) {}
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;
  ~OpProfile() {
    if (on_) print();
    for (cudaEvent_t e : pool_) cudaEventDestroy(e);
  }

  bool on() const { return on_; }
  // What the ops marked from now on belong to ("decode", "prefill"): the table keeps them apart.
  void phase(const char* name) { phase_ = name; }
  // After `op` was queued on `stream`.
  void mark(const char* op, cudaStream_t stream) {
    if (!on_) return;
    if (marks_.size() == pool_.size()) {
      cudaEvent_t e = nullptr;
      if (cudaEventCreate(&e) != cudaSuccess) return;
      pool_.push_back(e);
    }
    cudaEvent_t e = pool_[marks_.size()];
    cudaEventRecord(e, stream);
    marks_.push_back({op, phase_, e, std::chrono::steady_clock::now()});
  }
  // After the stream drained: the marks since the last harvest become totals (the first is the anchor).
  void harvest() {
    if (!on_) return;
    for (size_t i = 1; i < marks_.size(); ++i) {
      float ms = 0;
      if (cudaEventElapsedTime(&ms, marks_[i - 1].event, marks_[i].event) != cudaSuccess) ms = 0;
      Total& t = totals_[std::string(marks_[i].phase) + " " + marks_[i].op];
      t.gpu_ms += ms;
      t.host_ms += std::chrono::duration<double, std::milli>(marks_[i].host - marks_[i - 1].host).count();
      ++t.count;
    }
    marks_.clear();
  }

 private:
  struct Mark {
    const char* op;
    const char* phase;
    cudaEvent_t event;
    std::chrono::steady_clock::time_point host;
  };
  struct Total {
    double gpu_ms = 0, host_ms = 0;
    int64_t count = 0;
  };
  void print() const {
    double gpu = 0, host = 0;
    for (const auto& [op, t] : totals_) gpu += t.gpu_ms, host += t.host_ms;
    std::multimap<double, std::string, std::greater<>> by_time;
    for (const auto& [op, t] : totals_) by_time.emplace(t.gpu_ms, op);
    std::fprintf(stderr, "cuda op profile: %.3f ms of GPU time between op events, %.3f ms of host time\n", gpu, host);
    std::fprintf(stderr, "%-36s %9s %10s %6s %11s %11s\n", "op", "calls", "gpu ms", "%", "gpu us/call",
                 "host us/call");
    for (const auto& [ms, op] : by_time) {
      const Total& t = totals_.at(op);
      std::fprintf(stderr, "%-36s %9lld %10.3f %6.1f %11.2f %11.2f\n", op.c_str(), static_cast<long long>(t.count),
                   t.gpu_ms, gpu > 0 ? 100 * t.gpu_ms / gpu : 0.0, 1000 * t.gpu_ms / t.count,
                   1000 * t.host_ms / t.count);
    }
  }

  bool on_;
  const char* phase_ = "";
  std::vector<cudaEvent_t> pool_;
  std::vector<Mark> marks_;
  std::map<std::string, Total> totals_;
};

}  // namespace baleen::cuda
