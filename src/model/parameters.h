// Parameter counts and storage bytes of a model, from its config alone (the dtypes the official release
// uses under that config) or from an opened checkpoint (what its files hold). Pure functions.
// Counts are logical elements (an FP4 element counts as one); scale companions and the hash-routing
// tables (tid2eid) are storage, not parameters. "active" = everything but the routed experts, plus K/E
// of the routed experts (the weights one token touches).
#pragma once

#include <cstdint>
#include <map>

#include "core/dtype.h"
#include "model/config.h"

namespace baleen {

class Checkpoint;

struct ParameterCount {
  int64_t total = 0;                      // main model + MTP blocks
  int64_t active = 0;                     // per token, main model + MTP blocks
  int64_t mtp = 0;                        // the MTP blocks' share of total
  int64_t tensors = 0;                    // stored tensors, scales and tables included
  std::map<DType, uint64_t> bytes;        // stored bytes by stored dtype (FP4 listed as F4)
  std::map<DType, int64_t> tensor_count;  // stored tensors by stored dtype
};

ParameterCount count_parameters(const Config& config);
ParameterCount count_parameters(const Checkpoint& checkpoint);

}  // namespace baleen
