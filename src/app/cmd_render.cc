// `baleen render --input IN.jsonl --output OUT.jsonl`: each line {"messages", "tools", "thinking",
// "reasoning_effort", "dialect", ...} becomes {"prompt": "..."}; a bad line fails with its line number.
#include <fstream>
#include <memory>

#include "app/command.h"
#include "chat/render_request.h"
#include "core/error.h"

namespace baleen::app {
namespace {

void run_render(const std::string& input, const std::string& output) {
  std::ifstream in(input, std::ios::binary);
  check(in.good(), "{}: cannot open for reading", input);
  std::ofstream out(output, std::ios::binary);
  check(out.good(), "{}: cannot open for writing", output);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string prompt;
    try {
      prompt = chat::render_request_text(line);
    } catch (const Error& e) {
      fail("{}:{}: {}", input, number, e.what());
    }
    out << chat::Json{{"prompt", prompt}}.dump(-1, ' ', false, chat::Json::error_handler_t::replace) << '\n';
  }
  check(out.good(), "{}: write failed", output);
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
