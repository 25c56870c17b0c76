#include "model/parameters.h"

#include "model/checkpoint.h"
#include "model/layout.h"
#include "model/safetensors.h"

namespace baleen {
namespace {

bool is_routed_expert(const ExpectedTensor& t) {
  return t.role == TensorRole::kExpert;
}

void add_stored(ParameterCount& p, DType dtype, const std::vector<int64_t>& shape, const std::string& name) {
  p.bytes[dtype] += dtype_bytes(dtype, shape, name);
  p.tensor_count[dtype] += 1;
  p.tensors += 1;
}

// Logical parameter counts over the tensors the config implies; `present` filters (MTP may be absent).
template <typename Present>
void count_logical(const Config& config, ParameterCount& p, Present present) {
  int64_t routed = 0, rest = 0;
  for (const auto& t : expected_tensors(config)) {
    if (t.role == TensorRole::kIndex || !present(t)) continue;
    const auto n = static_cast<int64_t>(shape_elements(t.shape, t.name));
    (is_routed_expert(t) ? routed : rest) += n;
    if (t.mtp) p.mtp += n;
  }
  p.total = routed + rest;
  p.active = rest + routed * config.n_activated_experts / config.n_routed_experts;
}

}  // namespace

ParameterCount count_parameters(const Config& config) {
  ParameterCount p;
  count_logical(config, p, [](const ExpectedTensor&) { return true; });
  const DType scale = official_scale_dtype(config);
  for (const auto& t : expected_tensors(config)) {
    add_stored(p, t.official, t.shape, t.name);
    const auto s = official_scale_shape(config, t, t.official);
    if (!s.empty()) add_stored(p, scale, s, scale_name(t.name));
  }
  return p;
}

ParameterCount count_parameters(const Checkpoint& checkpoint) {
  ParameterCount p;
  count_logical(checkpoint.config(), p, [&](const ExpectedTensor& t) { return checkpoint.has(t.name); });
  for (const auto& name : checkpoint.names()) {
    const TensorInfo& t = checkpoint.info(name);
    p.bytes[t.dtype] += t.nbytes;
    p.tensor_count[t.dtype] += 1;
    p.tensors += 1;
  }
  return p;
}

}  // namespace baleen
