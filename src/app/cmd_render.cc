// `baleen render --input IN.jsonl --output OUT.jsonl`: each line {"messages", "tools", "thinking",
// "reasoning_effort", "dialect", ...} becomes {"prompt": "..."}; a bad line fails with its line number.
#include <memory>

#include "app/command.h"
#include "app/jsonl.h"
#include "chat/render_request.h"
#include "core/error.h"

namespace baleen::app {
namespace {

void run_render(const std::string& input, const std::string& output) {
  transform_jsonl(input, output, [](const std::string& line, size_t) {
    return chat::Json{{"prompt", chat::render_request_text(line)}};
  });
}

}  // namespace

void add_render_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("render", "Render chat requests (JSONL) into DeepSeek-V4 prompts");
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("--input", *input, "JSONL of {messages, tools, thinking, reasoning_effort, dialect}")
      ->required();
  cmd->add_option("--output", *output, "JSONL of {prompt}")->required();
  cmd->callback([input, output] { run_render(*input, *output); });
}

}  // namespace baleen::app
