// `baleen parse --input IN.jsonl --output OUT.jsonl`: each line {"text", "tools", "starts_in_reasoning"}
// becomes {"reasoning", "content", "tool_calls": [{"id", "name", "arguments"}], "errors": [{"message",
// "raw"}]}; a bad line fails with its line number.
#include <fstream>
#include <memory>

#include "app/command.h"
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
  const chat::ParsedOutput parsed = chat::parse_output(text->get_ref<const std::string&>(), options);
  chat::Json calls = chat::Json::array();
  for (const chat::ToolCall& c : parsed.tool_calls)
    calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  chat::Json errors = chat::Json::array();
  for (const chat::ParseError& e : parsed.errors) errors.push_back({{"message", e.message}, {"raw", e.raw}});
  return {{"reasoning", parsed.reasoning},
          {"content", parsed.content},
          {"tool_calls", calls},
          {"errors", errors}};
}

void run_parse(const std::string& input, const std::string& output) {
  std::ifstream in(input, std::ios::binary);
  check(in.good(), "{}: cannot open for reading", input);
  std::ofstream out(output, std::ios::binary);
  check(out.good(), "{}: cannot open for writing", output);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    chat::Json result;
    try {
      result = parse_line(line, number);
    } catch (const Error& e) {
      fail("{}:{}: {}", input, number, e.what());
    }
    out << result.dump(-1, ' ', false, chat::Json::error_handler_t::replace) << '\n';
  }
  check(out.good(), "{}: write failed", output);
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
