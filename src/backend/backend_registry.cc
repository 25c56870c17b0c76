#include "backend/backend_registry.h"

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace baleen {

std::vector<std::string> backend_names() {
  return {"cpu", "cuda"};
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options) {
  if (name == "cpu") return make_cpu_backend(options.threads);
  if (name == "cuda") {
#ifdef BALEEN_HAVE_CUDA
    fail("--backend cuda: this build has the CUDA kernels (src/backend/cuda) but not yet the Backend that "
         "runs a model on them; use --backend cpu");
#else
    fail("--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured); use "
         "--backend cpu");
#endif
  }
  fail("--backend {}: unknown backend (known: {})", name, fmt::join(backend_names(), ", "));
}

}  // namespace baleen
