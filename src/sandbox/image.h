// A sandbox image: a directory holding image.json and its layers, read-only directories stacked
// bottom first, named by a content hash (scripts/build_image.sh). Every sandbox shares the layers;
// only its writable layer is its own.
//   image.json: {"format": "baleen-image-1", "hash": "sha256:<hex>", "layers": ["layers/base", ...]}
#pragma once

#include <string>
#include <vector>

namespace baleen::sandbox {

struct Image {
  std::string dir;                  // absolute
  std::string hash;                 // "sha256:<hex>" as recorded by the builder
  std::vector<std::string> layers;  // absolute layer directories, bottom first

  // Reads and validates dir/image.json; throws baleen::Error naming the field that is wrong.
  static Image open(const std::string& dir);
  // Writes dir/image.json for the given layers (paths relative to dir).
  static void write_manifest(const std::string& dir, const std::string& hash,
                             const std::vector<std::string>& relative_layers);
};

}  // namespace baleen::sandbox
