// The conformance suite (issue 17 item 6): every backend op against its float64 truth (the CPU backend's
// *_reference functions), run for each backend this build registers, so a new backend inherits the tests.
// Inputs go into the backend's own memory through the seam alone (upload, allocate, gather_rows, download),
// never by writing a pointer the backend handed out. A backend that is built but cannot start here (CUDA
// without a device) is skipped with its reason, unless BALEEN_REQUIRE_BACKENDS (comma-separated names)
// lists it: then its failure to start fails the test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/backend_registry.h"
#include "core/tensor.h"
#include "core/weight_view.h"

namespace baleen::test {

std::vector<std::string> registered_backends();  // the names whose backend this build has

class BackendUnderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;
  Backend& backend() { return *backend_; }

  // A writable backend copy of a host matrix (rows packed); the copy is made by gather_rows.
  MatrixView<float> copy_in(MatrixView<const float> host);
  MatrixView<float> copy_in(const Tensor& host) { return copy_in(MatrixView<const float>(host.matrix())); }
  // Uninitialised backend rows [rows, cols].
  MatrixView<float> rows(int64_t rows, int64_t cols);
  MatrixView<int32_t> int_rows(int64_t rows, int64_t cols);
  // A read-only backend copy of host values (tables, indices, positions).
  template <typename T>
  const T* table(const std::vector<T>& host) {
    return static_cast<const T*>(backend().upload(host.data(), static_cast<int64_t>(host.size() * sizeof(T))));
  }
  const float* table(const Tensor& host) {
    return static_cast<const float*>(backend().upload(host.data(), host.size() * 4));
  }
  WeightView weight(const WeightView& host) { return backend().upload_weight(host, HostMemory::kTransient); }
  // A step of one sequence: `rows` tokens of `state` from position `start` (token ids 0; the last row's
  // logits asked for).
  Step begin_step(StateId state, int64_t start, int64_t rows);
  // A host copy of backend rows.
  Tensor copy_out(MatrixView<const float> rows);
  std::vector<int32_t> copy_out(MatrixView<const int32_t> rows);

 private:
  void* allocate(int64_t bytes);
  std::unique_ptr<Backend> backend_;
  std::vector<void*> buffers_;
  std::vector<int32_t> step_tokens_, step_logit_rows_;
  std::vector<StepSequence> step_sequences_;
};

// Instantiates a suite of TEST_P cases for every registered backend, named by the backend.
#define BALEEN_FOR_EVERY_BACKEND(Suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(::baleen::test::registered_backends()), \
                           [](const auto& info) { return info.param; })

}  // namespace baleen::test
