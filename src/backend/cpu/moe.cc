#include "backend/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "backend/cpu/matmul.h"

namespace baleen::cpu {
namespace {

template <typename R>
R softplus(R x) {
  return x > R(20) ? x : std::log1p(std::exp(x));  // torch's threshold
}

template <typename R>
R clamp_silu_product(R gate, R up, R limit) {
  if (limit > 0) {
    gate = std::min(gate, limit);
    up = std::clamp(up, -limit, limit);
  }
  return gate / (R(1) + std::exp(-gate)) * up;
}

// One token's routing in precision R; `order` has room for E ints.
template <typename R>
void route_token(const float* logits, int64_t n_experts, const float* bias, const int32_t* hashed,
                 float scaling, int32_t* experts, float* weights, int64_t k, R* scores, int32_t* order) {
  for (int64_t e = 0; e < n_experts; ++e) scores[e] = std::sqrt(softplus<R>(R(logits[e])));
  if (hashed) {
    std::copy(hashed, hashed + k, experts);
  } else {
    std::iota(order, order + n_experts, 0);
    auto biased = [&](int32_t e) { return scores[e] + (bias ? R(bias[e]) : R(0)); };
    std::partial_sort(order, order + k, order + n_experts, [&](int32_t a, int32_t b) {
      return biased(a) > biased(b) || (biased(a) == biased(b) && a < b);
    });
    std::copy(order, order + k, experts);
  }
  R sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += scores[experts[i]];
  for (int64_t i = 0; i < k; ++i)
    weights[i] = static_cast<float>(scores[experts[i]] / (sum + R(1e-20)) * scaling);
}

}  // namespace

void moe_route_rows(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                    const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                    MatrixView<float> weights, int64_t begin, int64_t end) {
  constexpr int64_t kMaxExperts = 1024;
  float scores[kMaxExperts];
  int32_t order[kMaxExperts];
  const int64_t k = experts.cols;
  for (int64_t t = begin; t < end; ++t) {
    const int32_t* hashed = tid2eid ? tid2eid + int64_t{tokens[t]} * k : nullptr;
    route_token<float>(logits.row(t), logits.cols, bias, hashed, scaling, experts.row(t), weights.row(t), k,
                       scores, order);
  }
}

void moe_route_reference(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                         const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                         MatrixView<float> weights) {
  std::vector<double> scores(static_cast<size_t>(logits.cols));
  std::vector<int32_t> order(static_cast<size_t>(logits.cols));
  const int64_t k = experts.cols;
  for (int64_t t = 0; t < logits.rows; ++t) {
    const int32_t* hashed = tid2eid ? tid2eid + int64_t{tokens[t]} * k : nullptr;
    route_token<double>(logits.row(t), logits.cols, bias, hashed, scaling, experts.row(t), weights.row(t), k,
                        scores.data(), order.data());
  }
}

void swiglu(float* gate, const float* up, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) gate[i] = clamp_silu_product<float>(gate[i], up[i], limit);
}

void moe_experts_reference(MatrixView<const float> x, const MoeRoutes& routes,
                           std::span<const ExpertWeights> experts, float limit, MatrixView<float> out) {
  for (int64_t t = 0; t < x.rows; ++t) {
    std::vector<double> acc(static_cast<size_t>(x.cols), 0.0);
    for (int64_t k = 0; k < routes.experts.cols; ++k) {
      const ExpertWeights& e = experts[static_cast<size_t>(routes.experts(t, k))];
      std::vector<double> act(static_cast<size_t>(e.w1.rows));
      for (int64_t f = 0; f < e.w1.rows; ++f) {
        double g = 0, u = 0;
        for (int64_t i = 0; i < x.cols; ++i) {
          g += weight_value(e.w1, f, i) * x(t, i);
          u += weight_value(e.w3, f, i) * x(t, i);
        }
        act[static_cast<size_t>(f)] = clamp_silu_product<double>(g, u, limit);
      }
      for (int64_t o = 0; o < e.w2.rows; ++o) {
        double y = 0;
        for (int64_t f = 0; f < e.w2.cols; ++f) y += weight_value(e.w2, o, f) * act[static_cast<size_t>(f)];
        acc[static_cast<size_t>(o)] += double(routes.weights(t, k)) * y;
      }
    }
    for (int64_t o = 0; o < x.cols; ++o) out(t, o) += static_cast<float>(acc[static_cast<size_t>(o)]);
  }
}

}  // namespace baleen::cpu
