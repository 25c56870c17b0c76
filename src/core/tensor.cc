#include "core/tensor.h"

#include "core/error.h"

namespace baleen {

Tensor::Tensor(std::vector<int64_t> shape) : shape_(std::move(shape)) {
  int64_t count = 1;
  for (int64_t d : shape_) {
    check(d >= 0, "tensor dimension must be non-negative, got {}", d);
    count *= d;
  }
  values_.assign(static_cast<size_t>(count), 0.0f);
}

MatrixView<float> Tensor::matrix() {
  const int64_t cols = shape_.empty() ? 1 : shape_.back();
  return {values_.data(), cols == 0 ? 0 : size() / cols, cols};
}

MatrixView<const float> Tensor::matrix() const {
  const int64_t cols = shape_.empty() ? 1 : shape_.back();
  return {values_.data(), cols == 0 ? 0 : size() / cols, cols};
}

}  // namespace baleen
