// `baleen generate`: greedy continuation of a comma-separated list of token ids; prints the new ids, up to
// and including the end-of-sentence id (--stop-at-eos, default on).
#include <cstdio>
#include <sstream>
#include <string>

#include "app/command.h"
#include "app/model_options.h"
#include "core/error.h"
#include "engine/generator.h"

namespace baleen::app {
namespace {

struct Options {
  ModelFlags model;
  std::string ids;
  int64_t tokens = 16;
  bool stop_at_eos = true;
  int32_t eos = 1;  // DeepSeek's <｜end▁of▁sentence｜>
};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      check(used == item.size(), "");
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      fail("--ids must be comma-separated integers, got '{}'", item);
    }
  }
  check(!ids.empty(), "--ids is empty");
  return ids;
}

void run(const Options& o) {
  check(o.tokens >= 0, "-n must be >= 0, got {}", o.tokens);
  const std::vector<int32_t> prompt = parse_ids(o.ids);
  session::ModelInstance instance(o.model.model, o.model.options());
  Model& model = instance.model();
  std::vector<int32_t> out;
  if (o.tokens > 0) {
    SessionState state = model.new_session(o.model.storage());
    StopConditions stop{o.tokens, {}};
    if (o.stop_at_eos) stop.stop_ids.push_back(o.eos);
    Sequence seq(state, prompt, SamplingParams{}, stop);
    Generator(model).run(seq);
    out = seq.sampled();
  }
  for (size_t i = 0; i < out.size(); ++i) std::printf(i ? ",%d" : "%d", out[i]);
  std::printf("\n");
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("generate", "Greedy generation from token ids; prints the generated ids");
  opts->model.add_to(*cmd, "paper", true);
  cmd->add_option("--ids", opts->ids, "prompt token ids, comma-separated")->required();
  cmd->add_option("-n", opts->tokens, "tokens to generate")->capture_default_str();
  cmd->add_flag("--stop-at-eos,!--no-stop-at-eos", opts->stop_at_eos, "stop after the end-of-sentence id")
      ->capture_default_str();
  cmd->add_option("--eos", opts->eos, "end-of-sentence id")->capture_default_str();
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
