// The CUDA backend (src/backend/cuda): weights, workspace, step inputs and every session's state in the
// memory of one GPU; each op a kernel launch on one stream, so a step is a fixed sequence of launches.
// Ops run the general kernels (any weight dtype, row format and shape: weight_matmul.h, token_ops.h,
// session_kernels.h); a launch error is kept and thrown by the next call that waits for the device
// (download, state export). Expert parallelism is not supported on it yet.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace baleen {

std::unique_ptr<Backend> make_cuda_backend(int device = 0);

}  // namespace baleen
