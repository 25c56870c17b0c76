// Plain tensor views (pointer + shape + row stride) and an owning float tensor. Views never own
// memory and never allocate; the caller keeps the storage alive. Not thread-safe to mutate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace baleen {

// A row-major matrix view [rows, cols] whose rows start `stride` elements apart.
template <typename T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;

  MatrixView() = default;
  MatrixView(T* d, int64_t r, int64_t c) : data(d), rows(r), cols(c), stride(c) {}
  MatrixView(T* d, int64_t r, int64_t c, int64_t s) : data(d), rows(r), cols(c), stride(s) {}
  // A view of the same memory with const elements.
  operator MatrixView<const T>() const { return {data, rows, cols, stride}; }

  T* row(int64_t i) const { return data + i * stride; }
  T& operator()(int64_t i, int64_t j) const { return data[i * stride + j]; }
  MatrixView rows_slice(int64_t begin, int64_t count) const {
    return {data + begin * stride, count, cols, stride};
  }
};

// An owning, contiguous float tensor of any rank.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(std::vector<int64_t>(shape)) {}

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  bool empty() const { return values_.empty(); }

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }

  // The tensor as a matrix: the last dimension is the columns, all others fold into rows.
  MatrixView<float> matrix();
  MatrixView<const float> matrix() const;

 private:
  std::vector<int64_t> shape_;
  std::vector<float> values_;
};

}  // namespace baleen
