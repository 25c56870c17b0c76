// `baleen logits`: token ids (.npy int32 1-D) in, logits (.npy float32 [T, vocab]) out, computed in one of
// the engine's modes (full sequence, token by token, or chunks of N) over fp32 or paper session storage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "app/command.h"
#include "backend/backend.h"
#include "core/error.h"
#include "core/log.h"
#include "core/npy.h"
#include "engine/model.h"
#include "model/checkpoint.h"

namespace baleen::app {
namespace {

struct Options {
  std::string model, ids, out, mode = "full", state = "fp32";
};

// Prefill progress: a bar with rate and ETA on a terminal, a log line every few seconds otherwise.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void operator()(int64_t done, int64_t) {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = done / std::max(secs, 1e-9), eta = (total_ - done) / std::max(rate, 1e-9);
    if (tty_) {
      const int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(total_, 1));
      std::fprintf(stderr, "\rprefill [%s%s] %ld/%ld tokens  %.1f tok/s  ETA %.0fs",
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                   static_cast<long>(done), static_cast<long>(total_), rate, eta);
      if (done == total_) std::fprintf(stderr, "\n");
    } else if (secs - last_log_ >= 5.0 || done == total_) {
      last_log_ = secs;
      log::info("prefill {}/{} tokens, {:.1f} tok/s, ETA {:.0f}s", done, total_, rate, eta);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  bool tty_;
  Clock::time_point start_ = Clock::now();
  double last_log_ = 0;
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

StateStorage storage_for(const std::string& state) {
  if (state == "fp32") return StateStorage::kFp32;
  if (state == "paper") return StateStorage::kPaper;
  fail("--state must be fp32 or paper, got '{}'", state);
}

void run(const Options& o) {
  const StateStorage storage = storage_for(o.state);
  const std::vector<int32_t> ids = read_npy_int32(o.ids);
  const int64_t chunk = chunk_for_mode(o.mode, static_cast<int64_t>(ids.size()));
  log::info("loading {}", o.model);
  const Checkpoint checkpoint = Checkpoint::open(o.model);
  const ModelWeights weights = load_weights(checkpoint);
  auto backend = make_cpu_backend();
  Model model(checkpoint.config(), weights, *backend);
  SessionState state = model.new_session(storage);
  Progress progress(static_cast<int64_t>(ids.size()));
  const Tensor logits = model.prefill(ids, state, chunk, [&](int64_t d, int64_t t) { progress(d, t); });
  write_npy_float32(o.out, logits);
  log::info("wrote {} [{}, {}]; session state {} bytes", o.out, logits.dim(0), logits.dim(1), state.bytes());
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("logits", "Compute the logits of a token sequence (.npy in, .npy out)");
  cmd->add_option("--model", opts->model, "checkpoint directory (config.json + safetensors)")->required();
  cmd->add_option("--ids", opts->ids, "int32 1-D .npy of token ids")->required();
  cmd->add_option("--out", opts->out, "output float32 [T, vocab] .npy")->required();
  cmd->add_option("--mode", opts->mode, "full | incremental | chunked:N")->capture_default_str();
  cmd->add_option("--state", opts->state, "session storage: fp32 | paper")->capture_default_str();
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
