// A random DeepSeek-V4 checkpoint in the official layout and dtypes, for memory and speed measurements at
// real sizes without the real weights: config.json (official spelling), model.safetensors.index.json and
// shards of at most 4 GiB holding every tensor layout.h's expected_tensors implies, each in the dtype the
// official release stores it in (FP8 e4m3 linears with 128×128 ue8m0 scales, FP4 experts as I8 pairs with
// per-32 ue8m0 scales, BF16, F32, I64 tid2eid). Values are drawn so that a forward pass stays finite (see
// random_checkpoint.cc). Tensors are generated and written a few MiB at a time, never held whole; the bytes
// are a function of the seed alone. Throws Error naming the file or field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/safetensors_writer.h"

namespace baleen {

// The official config.json of a named shape with `layers` layers. "flash" is DeepSeek-V4-Flash (hidden
// 4096, 64 heads × 512, 256 FP4 experts + 1 shared, indexer 64 × 128, vocab 129280) keeping the real
// model's first `layers` compress ratios and hash layers, without the MTP block (1–43 layers). "tiny" is a
// model of the same structure and dtypes, a few hundred KiB, whose sizes leave partial FP8 blocks; its
// schedule repeats sliding, CSA (m = 4), HCA (m = 128), the first layer hash-routed.
nlohmann::json random_checkpoint_config(std::string_view shape, int64_t layers);

struct ShardPlan {
  std::string file;                 // model-0000i-of-0000n.safetensors
  std::vector<TensorSpec> tensors;  // stored names, dtypes, shapes (FP4 as I8 [out, in/2]), in file order
  uint64_t file_bytes = 0;          // header included
};

struct CheckpointPlan {
  std::vector<ShardPlan> shards;
  uint64_t tensor_bytes = 0;  // the tensors' bytes: the index's metadata.total_size
  uint64_t file_bytes = 0;    // the shards on disk
};

// Which tensors go to which shard: in expected_tensors order, each quantized weight beside its scale, a new
// shard when the next tensor would take the current one past max_shard_bytes.
CheckpointPlan plan_random_checkpoint(const Config& config, uint64_t max_shard_bytes = uint64_t{4} << 30);

// Writes the checkpoint of `config_json` into `dir` (created if absent; it must not hold a config.json or
// shards already). Shards first, then config.json and the index, each renamed into place when complete.
void write_random_checkpoint(const nlohmann::json& config_json, const std::filesystem::path& dir,
                             uint64_t seed, uint64_t max_shard_bytes = uint64_t{4} << 30);

}  // namespace baleen
