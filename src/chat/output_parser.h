// The streaming parser of model output: takes text in arbitrary chunks (token by token, byte by byte,
// whole) and yields reasoning text, content text, tool calls as each completes, and errors. The sequence
// of results is the same for every chunking: a chunk that ends inside a possible marker ("</think>",
// "<｜DSML｜tool_calls>", end of sentence) is held back until the marker is known, and flushed as text at
// finish() if it never completes. Text deltas never end inside a UTF-8 sequence. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/conversation.h"
#include "chat/dsml_parser.h"

namespace baleen::chat {

struct ParserOptions {
  bool starts_in_reasoning = false;  // the prompt ended in "<think>"
  Json tools;                        // the request's tools (OpenAI tools or function objects), or null
  uint64_t id_seed = 0;              // tool-call ids are a function of (seed, call index)
};

struct ParseEvent {
  enum class Kind { kReasoning, kContent, kToolCall, kError };
  Kind kind = Kind::kContent;
  std::string text;  // reasoning / content delta
  ToolCall call;
  ParseError error;

  bool operator==(const ParseEvent&) const = default;
};

struct ParsedOutput {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::vector<ParseError> errors;

  bool operator==(const ParsedOutput&) const = default;
};

class OutputParser {
 public:
  explicit OutputParser(ParserOptions options);
  ~OutputParser();

  std::vector<ParseEvent> feed(std::string_view chunk);
  // End of output (EOS, max_tokens or a stop): flushes held-back text, reports an unfinished block.
  std::vector<ParseEvent> finish();
  // Still inside the reasoning (what comes next is reasoning unless it closes it).
  bool in_reasoning() const { return state_ == State::kReasoning; }

 private:
  enum class State { kReasoning, kContent, kBlock, kAfterBlock, kDone };

  void advance(bool at_end, std::vector<ParseEvent>& out);
  bool advance_text(bool at_end, std::vector<ParseEvent>& out);
  bool advance_block(bool at_end, std::vector<ParseEvent>& out);
  bool advance_after_block(bool at_end, std::vector<ParseEvent>& out);
  void emit_text(std::string_view text, std::vector<ParseEvent>& out);
  void emit_items(std::vector<BlockItem>& items, std::vector<ParseEvent>& out);

  ParserOptions options_;
  State state_;
  std::string buf_;  // unconsumed text
  std::unique_ptr<DsmlBlockParser> block_;
  size_t calls_ = 0;
  size_t scanned_ = 0;  // bytes of buf_ already searched for the end of sentence (after a block)
};

// The id of the index-th tool call of an output: "call_" + 16 hex digits, unique per (seed, index).
std::string tool_call_id(uint64_t seed, size_t index);

// The events with adjacent text deltas of one kind joined: the form every chunking of an output agrees on.
std::vector<ParseEvent> coalesce(const std::vector<ParseEvent>& events);
// Folds events into a result (adjacent text deltas joined).
void collect(const std::vector<ParseEvent>& events, ParsedOutput& into);
// Parses a whole output at once.
ParsedOutput parse_output(std::string_view text, const ParserOptions& options);

// {"reasoning", "content", "tool_calls": [{"id", "name", "arguments"}], "errors": [{"message", "raw"}]}:
// the JSON shape of `baleen parse` and `baleen run --requests`.
Json parsed_output_json(const ParsedOutput& parsed);

}  // namespace baleen::chat
