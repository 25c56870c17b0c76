// The backends this build has, by name: what `--backend NAME` picks. make_backend throws Error naming the
// backend and why when it is unknown or not in this build.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "backend/communicator.h"

namespace baleen {

struct BackendOptions {
  unsigned threads = 0;  // host threads (cpu: the kernels' pool; 0: all cores)
  int device = 0;        // GPU ordinal (cuda)
  Communicator* expert_group = nullptr;  // expert parallelism: this backend's rank (null: all experts here)
};

std::vector<std::string> backend_names();  // every name make_backend knows, built or not
// Why make_backend(name) would fail (unknown, or not in this build), or empty when it would not.
std::string backend_unavailable(std::string_view name);
std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options = {});

}  // namespace baleen
