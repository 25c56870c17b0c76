#include "backend/backend_registry.h"

#include "backend/cpu/cpu_backend.h"
#ifdef BALEEN_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "core/error.h"

namespace baleen {

std::vector<std::string> backend_names() {
  return {"cpu", "cuda"};
}

std::string backend_unavailable(std::string_view name) {
  if (name == "cpu") return "";
  if (name == "cuda") {
#ifdef BALEEN_HAVE_CUDA
    return "";
#else
    return "--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured); use "
           "--backend cpu";
#endif
  }
  return fmt::format("--backend {}: unknown backend (known: {})", name, fmt::join(backend_names(), ", "));
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options) {
  if (const std::string why = backend_unavailable(name); !why.empty()) throw Error(why);
#ifdef BALEEN_HAVE_CUDA
  if (name == "cuda") {
    check(options.expert_group == nullptr || options.expert_group->size() == 1,
          "--backend cuda: expert parallelism is not supported on the cuda backend yet");
    return make_cuda_backend(options.device);
  }
#endif
  return make_cpu_backend(options.threads, options.expert_group);
}

}  // namespace baleen
