// The CPU backend (src/backend/cpu): host memory is its device memory; AVX2/FMA kernels on a pool of
// `threads` threads (0: all cores); session states in reference-counted pages (cpu/state_store.h).
// With an expert group, this backend is one rank of expert parallelism: it computes the routed experts of
// its share (rank r of R: experts [r·E/R, (r+1)·E/R)) for the tokens of every rank, and its own tokens'
// other experts on their owners; attention, the shared expert and everything else stay its own.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "backend/communicator.h"

namespace baleen {

std::unique_ptr<Backend> make_cpu_backend(unsigned threads = 0, Communicator* expert_group = nullptr);

}  // namespace baleen
