// The CPU backend (src/backend/cpu): host memory is its device memory; AVX2/FMA kernels on a pool of
// `threads` threads (0: all cores); session states in reference-counted pages (cpu/state_store.h).
#pragma once

#include <memory>

#include "backend/backend.h"

namespace baleen {

std::unique_ptr<Backend> make_cpu_backend(unsigned threads = 0);

}  // namespace baleen
