// The grammar of a forced tool call: which model outputs are a valid prefix of a DSML tool-calls block
// that calls only the allowed tools, with only their parameters. Used to constrain decoding when a client
// forces a call (tool_choice required / a named tool); the token-level mask over it is
// session/tool_call_constraint.h. Byte-level: a token that ends inside a tag, or closes one tag and opens
// the next, is checked byte by byte.
//
// What it accepts, from the start of the assistant's output:
//   [reasoning "</think>"]            only when the prompt ended in "<think>": free text, no end of sentence;
//                                     a block that opens inside the reasoning is constrained from there on
//                                     (the other DSML spelling's block, which the parser also reads, is refused)
//   ["\n\n"] block-open "\n"          no content before the call
//   invoke name="TOOL">\n             TOOL one of the allowed tools
//   ( ["\n"] parameter name="KEY" string="true|false">VALUE close )*
//                                     KEY a parameter of TOOL's schema, each at most once; string="true" for
//                                     a parameter typed only "string", "false" for one typed without
//                                     "string", either when the schema does not say. A string="true" value
//                                     is any text up to the closing tag; a string="false" value is one
//                                     well-formed JSON value (strict: what the argument parser's JSON
//                                     reader takes), of the schema's type at its top level (object, array,
//                                     string, number, integer, boolean, null; nested values are not typed)
//   ["\n"] invoke-close "\n"          once every required parameter has been given
//   [invoke ...]                      more invokes only when parallel calls are allowed
//   block-close                       then nothing: the turn may only end.
// The layout is the one the encoder renders (and the model was trained on). Text that would spell the
// end of sentence is refused everywhere, as the output parser would end the turn there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/dialect.h"
#include "chat/python_json.h"

namespace baleen::chat {

class ToolCallGrammar {
 public:
  // Where a prefix stands. A small value: copied freely to try a continuation.
  struct State {
    uint8_t phase = 0;
    uint8_t choice = 0;         // the choice point being matched (kChoice)
    uint16_t lo = 0, hi = 0;    // its alternatives still possible
    uint16_t pos = 0;           // bytes of them matched
    int16_t tool = -1;          // the tool being invoked
    uint8_t needles[4] = {};    // progress on the marker texts a free-text phase watches
    uint64_t used = 0;          // parameters of `tool` given so far (bit per parameter)
    // The JSON value of a string="false" parameter.
    uint8_t json = 0;
    uint8_t depth = 0;
    uint8_t kinds = 0;          // top-level JSON kinds allowed (bits of JsonKind); 0: any
    uint8_t aux = 0;            // literal position / hex digits left / key flag
    uint8_t literal = 0;
    uint8_t utf8_left = 0, utf8_lo = 0, utf8_hi = 0;
    uint32_t stack = 0;         // bit i: nesting level i is an object
    uint16_t hex = 0;           // the \uXXXX escape being read
    bool high_surrogate = false;  // a \uD800-\uDBFF was read: its low half must follow
  };

  // A byte class a state lets through without changing (so a token made only of such bytes keeps the
  // state as it is): what the token-level mask can accept without walking the token.
  enum class FreeText { kNone, kAnyButLt, kJsonStringAscii };

  // `functions`: the allowed tools' function objects {name, parameters} (at least one). Error for a tool
  // that cannot be spelled in DSML (a name or parameter name with '"' or '>', names not distinct, more
  // than 64 parameters).
  ToolCallGrammar(const DsmlTags& tags, const Json& functions, bool parallel, bool starts_in_reasoning);

  State start() const;
  // Whether the output may go on with `c` (then `s` is advanced); on false `s` is unspecified.
  bool advance(State& s, char c) const;
  bool advance(State& s, std::string_view text) const;
  // The tool-calls block is closed: only the end of the turn may follow.
  bool complete(const State& s) const;
  FreeText free_text(const State& s) const;

 private:
  struct Choice {
    std::vector<std::string> alts;  // sorted, prefix-free
    std::vector<int> tags;          // what completing each means
  };
  struct Param {
    std::string name;
    bool allow_string = true, allow_json = true;
    uint8_t kinds = 0;
    bool required = false;
  };
  struct Tool {
    std::string name;
    std::vector<Param> params;
    uint64_t required = 0;
  };
  struct Needle {
    std::string text;
    int action;
  };

  bool alt_allowed(const State& s, int tag) const;
  void enter_choice(State& s, uint8_t choice) const;
  bool advance_choice(State& s, char c) const;
  bool complete_choice(State& s, int tag) const;
  bool advance_text(State& s, char c) const;
  bool advance_json(State& s, char c) const;
  bool json_string_byte(State& s, unsigned char c) const;
  bool end_json_value(State& s) const;
  void start_value(State& s, int tag) const;

  std::vector<Tool> tools_;
  std::vector<Choice> choices_;
  std::vector<Needle> reasoning_needles_, raw_needles_, json_string_needles_;
  bool parallel_;
  bool starts_in_reasoning_;
};

}  // namespace baleen::chat
