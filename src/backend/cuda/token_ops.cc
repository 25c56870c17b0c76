// The engine's views handed to token_ops.cu's launchers as plain fields.
#include "backend/cuda/token_ops.h"

#include "backend/cuda/token_kernels.h"

namespace baleen::cuda {
namespace {

template <typename T>
kernels::Rows<T> rows_of(MatrixView<T> v) {
  return {v.data, v.rows, v.cols, v.stride};
}

kernels::HcParams hc_params(const HyperConnectionParams& p) {
  return {p.fn, p.base, p.scale, p.streams, p.hidden, p.sinkhorn_iters, p.hc_eps, p.norm_eps};
}

}  // namespace

cudaError_t embed(const int32_t* tokens, const WeightView& table, int64_t streams, MatrixView<float> out,
                  cudaStream_t stream) {
  if (table.dtype != DType::kF32 && table.dtype != DType::kBF16) return cudaErrorInvalidValue;
  return kernels::embed(tokens, table.data, table.dtype == DType::kBF16, table.cols, streams, rows_of(out),
                        stream);
}

cudaError_t rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y,
                     cudaStream_t stream) {
  return kernels::rms_norm(rows_of(x), weight, eps, rows_of(y), stream);
}

cudaError_t rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                 bool inverse, cudaStream_t stream) {
  return kernels::rope(rows_of(x), head_dim, positions, f.inv_freq, f.rope_dim, inverse, stream);
}

cudaError_t hadamard(MatrixView<float> x, cudaStream_t stream) {
  return kernels::hadamard(rows_of(x), stream);
}

cudaError_t kv_round_trip(const KvCodec& codec, MatrixView<float> rows, cudaStream_t stream) {
  return kernels::kv_round_trip(codec, rows_of(rows), stream);
}

cudaError_t gather_rows(MatrixView<const float> src, const int32_t* rows, MatrixView<float> dst,
                        cudaStream_t stream) {
  return kernels::gather_rows(rows_of(src), rows, rows_of(dst), stream);
}

cudaError_t hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                   MatrixView<float> post, MatrixView<float> comb, cudaStream_t stream) {
  return kernels::hc_pre(rows_of(streams), hc_params(p), rows_of(x), rows_of(post), rows_of(comb), stream);
}

cudaError_t hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                    MatrixView<const float> streams, MatrixView<float> out, cudaStream_t stream) {
  return kernels::hc_post(rows_of(y), rows_of(post), rows_of(comb), rows_of(streams), rows_of(out), stream);
}

cudaError_t hc_head(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y,
                    cudaStream_t stream) {
  return kernels::hc_head(rows_of(streams), hc_params(p), rows_of(y), stream);
}

cudaError_t moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                      const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                      MatrixView<float> weights, cudaStream_t stream) {
  return kernels::moe_route(rows_of(logits), bias, tid2eid, tokens, scaling, rows_of(experts),
                            rows_of(weights), stream);
}

cudaError_t swiglu(MatrixView<float> gate, MatrixView<const float> up, float limit, cudaStream_t stream) {
  return kernels::swiglu(rows_of(gate), rows_of(up), limit, stream);
}

}  // namespace baleen::cuda
