#include "sandbox/image.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace baleen::sandbox {

Image Image::open(const std::string& dir) {
  namespace fs = std::filesystem;
  Image image;
  image.dir = fs::absolute(dir).lexically_normal().string();
  std::string manifest = image.dir + "/image.json";
  std::ifstream in(manifest);
  check(in.good(), "image '{}' has no image.json (build one with scripts/build_image.sh)", dir);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("image manifest '{}' is not valid JSON: {}", manifest, e.what());
  }
  check(json.value("format", "") == "baleen-image-1", "image manifest '{}': format must be 'baleen-image-1'",
        manifest);
  check(json.contains("hash") && json["hash"].is_string(), "image manifest '{}': missing string 'hash'",
        manifest);
  image.hash = json["hash"];
  check(json.contains("layers") && json["layers"].is_array() && !json["layers"].empty(),
        "image manifest '{}': 'layers' must be a non-empty array", manifest);
  for (const auto& layer : json["layers"]) {
    check(layer.is_string(), "image manifest '{}': each layer must be a string", manifest);
    std::string relative = layer;
    check(!relative.empty() && relative[0] != '/' && relative.find("..") == std::string::npos &&
              relative.find_first_of(":,") == std::string::npos,
          "image manifest '{}': layer '{}' must be a plain relative path", manifest, relative);
    std::string path = image.dir + "/" + relative;
    check(fs::is_directory(path), "image '{}': layer '{}' is not a directory", dir, relative);
    image.layers.push_back(path);
  }
  return image;
}

void Image::write_manifest(const std::string& dir, const std::string& hash,
                           const std::vector<std::string>& relative_layers) {
  nlohmann::json json = {{"format", "baleen-image-1"}, {"hash", hash}, {"layers", relative_layers}};
  std::ofstream out(dir + "/image.json", std::ios::trunc);
  out << json.dump(2) << "\n";
  check(out.good(), "cannot write '{}/image.json'", dir);
}

}  // namespace baleen::sandbox
