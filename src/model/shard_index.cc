#include "model/shard_index.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "model/problems.h"
#include "model/safetensors.h"

namespace baleen {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  check(in.good(), "{}: cannot open", file.string());
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    fail("{}: malformed JSON: {}", file.string(), e.what());
  }
}

// A shard named by the index must be a plain file name inside the directory.
bool safe_shard_name(const std::string& name) {
  const std::filesystem::path p(name);
  if (name.empty() || p.is_absolute()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

ShardIndex from_index_file(const std::filesystem::path& dir, const std::filesystem::path& file) {
  ShardIndex index;
  index.source = file;
  const json doc = read_json(file);
  const std::string origin = file.string();
  check(doc.is_object(), "{}: index must be a JSON object", origin);
  auto map = doc.find("weight_map");
  check(map != doc.end() && map->is_object(), "{}: missing object 'weight_map'", origin);
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : map->items()) {
    check(shard.is_string(), "{}: weight_map['{}'] must be a file name", origin, tensor);
    const std::string name = shard.get<std::string>();
    check(safe_shard_name(name), "{}: weight_map['{}'] = '{}' is not a file inside the checkpoint directory",
          origin, tensor, name);
    index.weight_map[tensor] = name;
    shards.insert(name);
  }
  if (auto meta = doc.find("metadata"); meta != doc.end() && meta->is_object()) {
    if (auto total = meta->find("total_size"); total != meta->end() && !total->is_null()) {
      check(total->is_number_unsigned() || (total->is_number_integer() && total->get<int64_t>() >= 0),
            "{}: metadata.total_size must be a non-negative integer", origin);
      index.total_size = total->get<uint64_t>();
    }
  }
  std::vector<std::string> missing;
  for (const auto& name : shards) {
    const auto path = dir / name;
    if (!std::filesystem::is_regular_file(path)) missing.push_back(name);
    index.files.push_back(path);
  }
  check(missing.empty(), "{}: {} shard file(s) named by the index are missing:{}", origin, missing.size(),
        problem_listing(missing));
  return index;
}

}  // namespace

ShardIndex read_shard_index(const std::filesystem::path& dir) {
  check(std::filesystem::is_directory(dir), "{}: not a checkpoint directory", dir.string());
  const auto index_file = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(index_file)) return from_index_file(dir, index_file);
  ShardIndex index;
  if (std::filesystem::is_regular_file(dir / "model.safetensors")) {
    index.files.push_back(dir / "model.safetensors");
    return index;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
      index.files.push_back(entry.path());
  }
  std::sort(index.files.begin(), index.files.end());
  check(!index.files.empty(), "{}: no model.safetensors.index.json and no .safetensors files", dir.string());
  return index;
}

void check_shard_contents(const ShardIndex& index, const std::vector<const SafetensorsFile*>& shards) {
  if (index.source.empty()) return;
  std::vector<std::string> problems;
  std::map<std::string, const SafetensorsFile*> by_name;
  uint64_t total = 0;
  for (const auto* shard : shards) {
    const std::string name = shard->path().filename().string();
    by_name[name] = shard;
    for (const auto& e : shard->entries()) {
      total += e.nbytes();
      auto it = index.weight_map.find(e.name);
      if (it == index.weight_map.end()) {
        problems.push_back(fmt::format("{}: tensor '{}' is not in the index", name, e.name));
      } else if (std::filesystem::path(it->second).filename() != name) {
        problems.push_back(fmt::format("{}: tensor '{}' is indexed under {}", name, e.name, it->second));
      }
    }
  }
  for (const auto& [tensor, shard] : index.weight_map) {
    auto it = by_name.find(std::filesystem::path(shard).filename().string());
    if (it != by_name.end() && it->second->find(tensor) == nullptr) {
      problems.push_back(fmt::format("{}: indexed tensor '{}' is not in this shard", shard, tensor));
    }
  }
  if (index.total_size && *index.total_size != total) {
    problems.push_back(fmt::format("metadata.total_size = {} but the shards' tensors hold {} bytes",
                                   *index.total_size, total));
  }
  check(problems.empty(), "{}: the index does not match the shards ({} problem(s)):{}", index.source.string(),
        problems.size(), problem_listing(problems));
}

}  // namespace baleen
