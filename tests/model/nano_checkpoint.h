// Where the committed baleen-nano checkpoint lies and whether it can be loaded: its shards are committed
// gzipped and scripts/setup.sh unpacks them beside the archives.
#pragma once

#include <filesystem>

namespace baleen::test {

inline std::filesystem::path nano_dir() {
  return std::filesystem::path(BALEEN_SOURCE_DIR) / "models" / "baleen-nano";
}

inline bool nano_unpacked() {
  return std::filesystem::exists(nano_dir() / "model-00001-of-00002.safetensors") &&
         std::filesystem::exists(nano_dir() / "model-00002-of-00002.safetensors");
}

}  // namespace baleen::test
