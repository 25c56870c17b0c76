// The options `run`, `chat` and `agent` share (model, tokenizer, thinking, sampling, max tokens) and the
// printing of a streamed turn: content to stdout, reasoning to stderr between <think> marks, tool calls
// and parse errors as one JSON line each.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "app/model_options.h"
#include "session/turn_runner.h"

namespace baleen::app {

struct ChatOptions : ModelFlags {
  std::string tokenizer;  // empty: tokenizer::default_tokenizer_path()
  bool thinking = false;
  int64_t max_tokens = 256;
  float temperature = 0.0f;
  uint64_t seed = 0;
  std::string dialect = "v4";

  void add_to(CLI::App& cmd);
  std::string tokenizer_path() const;
  session::TurnOptions turn_options() const;
};

class EventPrinter {
 public:
  void print(const chat::ParseEvent& event);
  void end();  // closes an open reasoning block, ends the line

 private:
  bool in_reasoning_ = false;
  bool content_open_ = false;
};

// One stderr line: finish reason and token counts.
void print_turn_summary(const session::TurnResult& result);

}  // namespace baleen::app
