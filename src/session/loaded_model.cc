#include "session/loaded_model.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "backend/backend_registry.h"
#include "core/error.h"
#include "tokenizer/deepseek_v4_tokens.h"

namespace baleen::session {

ModelInstance::ModelInstance(const std::filesystem::path& checkpoint_dir, const ModelOptions& options)
    : checkpoint_(Checkpoint::open(checkpoint_dir.string())),
      backend_(make_backend(options.backend, {.threads = options.threads})),
      model_(checkpoint_.config(), load_weights(checkpoint_, *backend_, options.weights), *backend_) {}

LoadedModel::LoadedModel(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& tokenizer_file,
                         const ModelOptions& options)
    : instance_(checkpoint_dir, options), tokenizer_(tokenizer::load_deepseek_v4(tokenizer_file)) {}

std::filesystem::path resolve_model_dir(const std::filesystem::path& requested) {
  namespace fs = std::filesystem;
  if (!requested.empty()) {
    check(fs::is_directory(requested), "--model {}: not a directory", requested.string());
    return requested;
  }
  if (const char* env = std::getenv("BALEEN_MODEL"); env && *env) {
    check(fs::is_directory(env), "$BALEEN_MODEL={}: not a directory", env);
    return env;
  }
  std::vector<fs::path> tried;
#ifdef BALEEN_SOURCE_TREE
  tried.push_back(fs::path(BALEEN_SOURCE_TREE) / "models" / "baleen-nano");
#endif
  std::error_code ec;
  for (fs::path dir = fs::current_path(ec); !ec && !dir.empty(); dir = dir.parent_path()) {
    tried.push_back(dir / "models" / "baleen-nano");
    if (dir == dir.root_path()) break;
  }
  std::string where;
  for (const fs::path& dir : tried) {
    if (fs::is_regular_file(dir / "config.json")) return dir;
    where += (where.empty() ? "" : ", ") + dir.string();
  }
  fail("no model: pass --model DIR or set $BALEEN_MODEL (looked for models/baleen-nano in {})", where);
}

}  // namespace baleen::session
