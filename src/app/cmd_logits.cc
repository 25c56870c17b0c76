// `baleen logits`: token ids (.npy int32 1-D) in, logits (.npy float32 [T, vocab]) out, computed in one of
// the engine's modes (full sequence, token by token, or chunks of N) over fp32 or paper session storage.
#include <cstdio>
#include <string>

#include "app/command.h"
#include "app/model_options.h"
#include "core/error.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/progress.h"
#include "engine/model.h"

namespace baleen::app {
namespace {

struct Options {
  ModelFlags model;
  std::string ids, out, mode = "full";
};

int64_t chunk_for_mode(const std::string& mode, int64_t tokens) {
  if (mode == "full") return std::max<int64_t>(tokens, 1);
  if (mode == "incremental") return 1;
  if (mode.rfind("chunked:", 0) == 0) {
    try {
      const int64_t n = std::stoll(mode.substr(8));
      if (n > 0) return n;
    } catch (const std::exception&) {
    }
  }
  fail("--mode must be full, incremental or chunked:N with N > 0, got '{}'", mode);
}

void run(const Options& o) {
  const StateStorage storage = o.model.storage();
  const std::vector<int32_t> ids = read_npy_int32(o.ids);
  const int64_t chunk = chunk_for_mode(o.mode, static_cast<int64_t>(ids.size()));
  log::info("loading {}", o.model.model);
  session::ModelInstance instance(o.model.model, o.model.options());
  Model& model = instance.model();
  SessionState state = model.new_session(storage);
  Progress progress("prefill", ids.size(), "tokens");
  int64_t reported = 0;
  const Tensor logits = model.prefill(ids, state, chunk, LogitRows::kAll, [&](int64_t done, int64_t) {
    progress.advance(static_cast<uint64_t>(done - reported));
    reported = done;
  });
  progress.finish();
  write_npy_float32(o.out, logits);
  log::info("wrote {} [{}, {}]; session state {} bytes", o.out, logits.dim(0), logits.dim(1), state.bytes());
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("logits", "Compute the logits of a token sequence (.npy in, .npy out)");
  opts->model.add_to(*cmd, "fp32", true);
  cmd->add_option("--ids", opts->ids, "int32 1-D .npy of token ids")->required();
  cmd->add_option("--out", opts->out, "output float32 [T, vocab] .npy")->required();
  cmd->add_option("--mode", opts->mode, "full | incremental | chunked:N")->capture_default_str();
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
