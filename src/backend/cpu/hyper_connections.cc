#include "backend/cpu/hyper_connections.h"

#include <cmath>
#include <vector>

#include "backend/cpu/dot.h"

namespace baleen::cpu {
namespace {

template <typename R>
R sigmoid(R v) {
  return R(1) / (R(1) + std::exp(-v));
}

// C = softmax over rows + eps, then columns / (sum + eps), then (iters − 1) × (rows, columns).
template <typename R>
void sinkhorn(R* c, int64_t n, int64_t iters, R eps) {
  auto normalize_rows = [&] {
    for (int64_t j = 0; j < n; ++j) {
      R s = 0;
      for (int64_t k = 0; k < n; ++k) s += c[j * n + k];
      for (int64_t k = 0; k < n; ++k) c[j * n + k] /= s + eps;
    }
  };
  auto normalize_columns = [&] {
    for (int64_t k = 0; k < n; ++k) {
      R s = 0;
      for (int64_t j = 0; j < n; ++j) s += c[j * n + k];
      for (int64_t j = 0; j < n; ++j) c[j * n + k] /= s + eps;
    }
  };
  for (int64_t j = 0; j < n; ++j) {
    R m = c[j * n];
    for (int64_t k = 1; k < n; ++k) m = std::max(m, c[j * n + k]);
    R s = 0;
    for (int64_t k = 0; k < n; ++k) s += (c[j * n + k] = std::exp(c[j * n + k] - m));
    for (int64_t k = 0; k < n; ++k) c[j * n + k] = c[j * n + k] / s + eps;
  }
  normalize_columns();
  for (int64_t i = 1; i < iters; ++i) {
    normalize_rows();
    normalize_columns();
  }
}

// pre/post/comb of one token from its mixes (length (2+n)·n), in precision R.
template <typename R>
void split_mixes(const R* mix, const HyperConnectionParams& p, R* pre, R* post, R* comb) {
  const int64_t n = p.streams;
  for (int64_t j = 0; j < n; ++j) {
    pre[j] = sigmoid<R>(mix[j] * R(p.scale[0]) + R(p.base[j])) + R(p.hc_eps);
    post[j] = R(2) * sigmoid<R>(mix[n + j] * R(p.scale[1]) + R(p.base[n + j]));
  }
  for (int64_t j = 0; j < n * n; ++j) comb[j] = mix[2 * n + j] * R(p.scale[2]) + R(p.base[2 * n + j]);
  sinkhorn<R>(comb, n, p.sinkhorn_iters, R(p.hc_eps));
}

// The unweighted-RMSNorm factor of a token's concatenated streams.
float stream_rsqrt(const float* flat, int64_t len, float eps) {
  return 1.0f / std::sqrt(dot(flat, flat, len) / static_cast<float>(len) + eps);
}

void collapse(const float* flat, const float* pre, int64_t n, int64_t d, float* x) {
  for (int64_t i = 0; i < d; ++i) x[i] = 0;
  for (int64_t j = 0; j < n; ++j) axpy(pre[j], flat + j * d, x, d);
}

}  // namespace

void hc_pre_rows(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                 MatrixView<float> post, MatrixView<float> comb, int64_t begin, int64_t end) {
  const int64_t n = p.streams, len = n * p.hidden, mixes = (2 + n) * n;
  float mix[(2 + kMaxStreams) * kMaxStreams], pre[kMaxStreams];
  for (int64_t t = begin; t < end; ++t) {
    const float* flat = streams.row(t);
    const float rs = stream_rsqrt(flat, len, p.norm_eps);
    for (int64_t j = 0; j < mixes; ++j) mix[j] = dot(p.fn + j * len, flat, len) * rs;
    split_mixes<float>(mix, p, pre, post.row(t), comb.row(t));
    collapse(flat, pre, n, p.hidden, x.row(t));
  }
}

void hc_pre_reference(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                      MatrixView<float> post, MatrixView<float> comb) {
  const int64_t n = p.streams, len = n * p.hidden, mixes = (2 + n) * n;
  std::vector<double> mix(static_cast<size_t>(mixes)), pre(static_cast<size_t>(n)),
      po(static_cast<size_t>(n)), c(static_cast<size_t>(n * n));
  for (int64_t t = 0; t < streams.rows; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < len; ++i) ss += double(streams(t, i)) * streams(t, i);
    const double rs = 1.0 / std::sqrt(ss / double(len) + p.norm_eps);
    for (int64_t j = 0; j < mixes; ++j) {
      double s = 0;
      for (int64_t i = 0; i < len; ++i) s += double(p.fn[j * len + i]) * streams(t, i);
      mix[static_cast<size_t>(j)] = s * rs;
    }
    split_mixes<double>(mix.data(), p, pre.data(), po.data(), c.data());
    for (int64_t j = 0; j < n; ++j) post(t, j) = static_cast<float>(po[static_cast<size_t>(j)]);
    for (int64_t j = 0; j < n * n; ++j) comb(t, j) = static_cast<float>(c[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < p.hidden; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += pre[static_cast<size_t>(j)] * streams(t, j * p.hidden + i);
      x(t, i) = static_cast<float>(s);
    }
  }
}

void hc_post_rows(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                  MatrixView<const float> streams, MatrixView<float> out, int64_t begin, int64_t end) {
  const int64_t n = post.cols, d = y.cols;
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t k = 0; k < n; ++k) {
      float* o = out.row(t) + k * d;
      const float pk = post(t, k);
      const float* yt = y.row(t);
      for (int64_t i = 0; i < d; ++i) o[i] = pk * yt[i];
      for (int64_t j = 0; j < n; ++j) axpy(comb(t, j * n + k), streams.row(t) + j * d, o, d);
    }
  }
}

void hc_post_reference(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                       MatrixView<const float> streams, MatrixView<float> out) {
  const int64_t n = post.cols, d = y.cols;
  for (int64_t t = 0; t < y.rows; ++t) {
    for (int64_t k = 0; k < n; ++k) {
      for (int64_t i = 0; i < d; ++i) {
        double s = double(post(t, k)) * y(t, i);
        for (int64_t j = 0; j < n; ++j) s += double(comb(t, j * n + k)) * streams(t, j * d + i);
        out(t, k * d + i) = static_cast<float>(s);
      }
    }
  }
}

void hc_head_rows(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y,
                  int64_t begin, int64_t end) {
  const int64_t n = p.streams, len = n * p.hidden;
  float pre[kMaxStreams];
  for (int64_t t = begin; t < end; ++t) {
    const float* flat = streams.row(t);
    const float rs = stream_rsqrt(flat, len, p.norm_eps);
    for (int64_t j = 0; j < n; ++j) {
      pre[j] = sigmoid<float>(dot(p.fn + j * len, flat, len) * rs * p.scale[0] + p.base[j]) + p.hc_eps;
    }
    collapse(flat, pre, n, p.hidden, y.row(t));
  }
}

void hc_head_reference(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y) {
  const int64_t n = p.streams, len = n * p.hidden;
  std::vector<double> pre(static_cast<size_t>(n));
  for (int64_t t = 0; t < streams.rows; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < len; ++i) ss += double(streams(t, i)) * streams(t, i);
    const double rs = 1.0 / std::sqrt(ss / double(len) + p.norm_eps);
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t i = 0; i < len; ++i) s += double(p.fn[j * len + i]) * streams(t, i);
      pre[static_cast<size_t>(j)] = sigmoid<double>(s * rs * p.scale[0] + p.base[j]) + p.hc_eps;
    }
    for (int64_t i = 0; i < p.hidden; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += pre[static_cast<size_t>(j)] * streams(t, j * p.hidden + i);
      y(t, i) = static_cast<float>(s);
    }
  }
}

}  // namespace baleen::cpu
