// `baleen parse --input IN.jsonl --output OUT.jsonl`: each line {"text", "tools", "starts_in_reasoning"}
// becomes {"reasoning", "content", "tool_calls": [{"id", "name", "arguments"}], "errors": [{"message",
// "raw"}]}; a bad line fails with its line number.
#include <memory>

#include "app/command.h"
#include "app/jsonl.h"
#include "chat/output_parser.h"
#include "core/error.h"

namespace baleen::app {
namespace {

chat::Json parse_line(const std::string& line, uint64_t seed) {
  const chat::Json request = chat::parse_json_text(line, "request");
  check(request.is_object(), "request: expected a JSON object");
  const auto text = request.find("text");
  check(text != request.end() && text->is_string(), "text: expected a string");
  chat::ParserOptions options;
  options.id_seed = seed;
  if (const auto r = request.find("starts_in_reasoning"); r != request.end() && !r->is_null()) {
    check(r->is_boolean(), "starts_in_reasoning: expected true or false");
    options.starts_in_reasoning = r->get<bool>();
  }
  if (const auto t = request.find("tools"); t != request.end()) options.tools = *t;
  return chat::parsed_output_json(chat::parse_output(text->get_ref<const std::string&>(), options));
}

void run_parse(const std::string& input, const std::string& output) {
  // The line number seeds the tool-call ids: stable across runs, distinct across lines.
  transform_jsonl(input, output,
                  [](const std::string& line, size_t number) { return parse_line(line, number); });
}

}  // namespace

void add_parse_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "parse", "Parse DeepSeek-V4 model output (JSONL) into reasoning, content, tool calls");
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("--input", *input, "JSONL of {text, tools, starts_in_reasoning}")->required();
  cmd->add_option("--output", *output, "JSONL of {reasoning, content, tool_calls, errors}")->required();
  cmd->callback([input, output] { run_parse(*input, *output); });
}

}  // namespace baleen::app
