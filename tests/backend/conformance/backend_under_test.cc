#include "backend_under_test.h"

#include <cstdlib>
#include <numeric>
#include <sstream>

#include "core/error.h"

namespace baleen::test {

std::vector<std::string> registered_backends() {
  std::vector<std::string> names;
  for (const std::string& name : backend_names()) {
    if (backend_unavailable(name).empty()) names.push_back(name);
  }
  return names;
}

namespace {

bool required(const std::string& name) {
  const char* list = std::getenv("BALEEN_REQUIRE_BACKENDS");
  if (list == nullptr) return name == "cpu";
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (item == name) return true;
  }
  return name == "cpu";
}

}  // namespace

void BackendUnderTest::SetUp() {
  try {
    backend_ = make_backend(GetParam(), {.threads = 2});
  } catch (const Error& e) {
    if (required(GetParam())) FAIL() << GetParam() << " backend did not start: " << e.what();
    GTEST_SKIP() << GetParam() << " backend cannot start here: " << e.what();
  }
}

void BackendUnderTest::TearDown() {
  if (!backend_) return;
  for (void* buffer : buffers_) backend_->release(buffer);
}

void* BackendUnderTest::allocate(int64_t bytes) {
  void* buffer = backend().allocate(std::max<int64_t>(bytes, 64));
  buffers_.push_back(buffer);
  return buffer;
}

MatrixView<float> BackendUnderTest::rows(int64_t rows, int64_t cols) {
  return {static_cast<float*>(allocate(rows * cols * 4)), rows, cols};
}

MatrixView<int32_t> BackendUnderTest::int_rows(int64_t rows, int64_t cols) {
  return {static_cast<int32_t*>(allocate(rows * cols * 4)), rows, cols};
}

MatrixView<float> BackendUnderTest::copy_in(MatrixView<const float> host) {
  std::vector<float> packed(static_cast<size_t>(host.rows * host.cols));
  for (int64_t r = 0; r < host.rows; ++r) std::copy(host.row(r), host.row(r) + host.cols, &packed[r * host.cols]);
  std::vector<int32_t> order(static_cast<size_t>(host.rows));
  std::iota(order.begin(), order.end(), 0);
  const MatrixView<const float> src{table(packed), host.rows, host.cols};
  MatrixView<float> dst = rows(host.rows, host.cols);
  backend().gather_rows(src, table(order), dst);
  return dst;
}

Step BackendUnderTest::begin_step(StateId state, int64_t start, int64_t rows) {
  step_tokens_.assign(static_cast<size_t>(rows), 0);
  step_sequences_ = {{state, 0, rows, start}};
  step_logit_rows_ = {static_cast<int32_t>(rows - 1)};
  return backend().begin_step({step_tokens_, step_sequences_, step_logit_rows_});
}

Tensor BackendUnderTest::copy_out(MatrixView<const float> rows) {
  std::vector<float> all(static_cast<size_t>((rows.rows - 1) * rows.stride + rows.cols));
  backend().download(rows.data, all.data(), static_cast<int64_t>(all.size() * 4));
  Tensor out({rows.rows, rows.cols});
  for (int64_t r = 0; r < rows.rows; ++r)
    std::copy(&all[r * rows.stride], &all[r * rows.stride] + rows.cols, out.matrix().row(r));
  return out;
}

std::vector<int32_t> BackendUnderTest::copy_out(MatrixView<const int32_t> rows) {
  std::vector<int32_t> all(static_cast<size_t>((rows.rows - 1) * rows.stride + rows.cols));
  backend().download(rows.data, all.data(), static_cast<int64_t>(all.size() * 4));
  std::vector<int32_t> out;
  for (int64_t r = 0; r < rows.rows; ++r)
    out.insert(out.end(), &all[r * rows.stride], &all[r * rows.stride] + rows.cols);
  return out;
}

}  // namespace baleen::test
