// The files of a checkpoint directory: model.safetensors.index.json (weight_map + metadata.total_size),
// else model.safetensors, else every *.safetensors in the directory. read_shard_index validates the index
// document and that every shard it names exists inside the directory; check_shard_contents compares the
// index with the opened shards' headers. Both throw Error listing every problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace baleen {

class SafetensorsFile;

struct ShardIndex {
  std::filesystem::path source;                   // the index file; empty when there is none
  std::vector<std::filesystem::path> files;       // shards to open, sorted, unique
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name (index only)
  std::optional<uint64_t> total_size;             // metadata.total_size (index only)
};

ShardIndex read_shard_index(const std::filesystem::path& dir);

// Every tensor of the index is in its shard, every shard tensor is in the index (for that shard), and
// metadata.total_size equals the tensors' bytes. No-op without an index.
void check_shard_contents(const ShardIndex& index, const std::vector<const SafetensorsFile*>& shards);

}  // namespace baleen
