// Prefill path: cuBLASLt's block-scaled FP8 GEMM (sm_90: VEC128 scales for the activations, BLK128x128
// for the weight), which computes DeepSeek's product exactly as the reference does. In cuBLAS's column-major
// terms D[N, M] = Wᵀ·X with W as a K×N matrix (transposed) and X as K×M; D is y [M, N] row-major.
#include <cublasLt.h>

#include "backend/cuda/fp8_linear.h"

namespace baleen::cuda {

struct PrefillContext {
  cublasLtHandle_t handle = nullptr;
};

PrefillContext* create_prefill_context() {
  auto* c = new PrefillContext;
  if (cublasLtCreate(&c->handle) != CUBLAS_STATUS_SUCCESS) {
    delete c;
    return nullptr;
  }
  return c;
}

void destroy_prefill_context(PrefillContext* context) {
  if (context == nullptr) return;
  cublasLtDestroy(context->handle);
  delete context;
}

namespace {

cudaError_t to_cuda(cublasStatus_t s) {
  if (s == CUBLAS_STATUS_SUCCESS) return cudaSuccess;
  return s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH ? cudaErrorNotSupported
                                                                              : cudaErrorUnknown;
}

// Owns the descriptors of one call.
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Descriptors() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

cublasStatus_t describe(Descriptors& ds, const Fp8Activations& x, const Fp8Weight& w,
                        size_t workspace_bytes) {
  const cublasOperation_t trans = CUBLAS_OP_T, plain = CUBLAS_OP_N;
  const int32_t w_mode = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
  const int32_t x_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
  const void* w_scales = w.scales;
  const void* x_scales = x.scales;
  cublasStatus_t s = cublasLtMatmulDescCreate(&ds.op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof trans);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_TRANSB, &plain, sizeof plain);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &w_mode, sizeof w_mode);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &x_mode, sizeof x_mode);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scales,
                                       sizeof w_scales);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scales,
                                       sizeof x_scales);
  const auto m = static_cast<uint64_t>(x.rows), n = static_cast<uint64_t>(w.rows),
             k = static_cast<uint64_t>(w.cols);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&ds.a, CUDA_R_8F_E4M3, k, n, static_cast<int64_t>(k));
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&ds.b, CUDA_R_8F_E4M3, k, m, static_cast<int64_t>(k));
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&ds.d, CUDA_R_32F, n, m, static_cast<int64_t>(n));
  if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulPreferenceCreate(&ds.pref);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof workspace_bytes);
  return s;
}

}  // namespace

cudaError_t fp8_linear_prefill(PrefillContext* context, const Fp8Activations& x, const Fp8Weight& w, float* y,
                               void* cublas_workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (context == nullptr || w.ue8m0_scales || x.rows % 16 != 0 || x.cols != w.cols || w.cols % 128 != 0 ||
      w.rows % 128 != 0 || x.scale_row_stride != 1 || x.scale_block_stride != x.rows)
    return cudaErrorInvalidValue;
  Descriptors ds;
  cublasStatus_t s = describe(ds, x, w, workspace_bytes);
  cublasLtMatmulHeuristicResult_t best{};
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulAlgoGetHeuristic(context->handle, ds.op, ds.a, ds.b, ds.d, ds.d, ds.pref, 1, &best,
                                       &found);
  if (s != CUBLAS_STATUS_SUCCESS) return to_cuda(s);
  if (found == 0) return cudaErrorNotSupported;
  const float alpha = 1.0f, beta = 0.0f;
  s = cublasLtMatmul(context->handle, ds.op, &alpha, w.data, ds.a, x.data, ds.b, &beta, y, ds.d, y, ds.d,
                     &best.algo, cublas_workspace, workspace_bytes, stream);
  return to_cuda(s);
}

}  // namespace baleen::cuda
