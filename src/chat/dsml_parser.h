// Incremental parser of one DSML tool-calls block (the text from "<｜DSML｜tool_calls>" on), fed in
// arbitrary chunks. It yields each invoke once its closing tag has arrived, in order; a malformed invoke,
// stray text or an unclosed block becomes an error carrying the exact raw text, and parsing resumes after
// it, so no call before or after is lost. Results do not depend on how the text was chunked.
#pragma once

#include <string>
#include <vector>

#include "chat/argument_schema.h"
#include "chat/dialect.h"

namespace baleen::chat {

// One complete item of a block: an invoke, or an error.
struct BlockItem {
  bool is_error = false;
  std::string name;                  // invoke
  std::vector<RawParameter> params;  // invoke
  ParseError error;                  // error
};

class DsmlBlockParser {
 public:
  // `opener` is the block-open tag already seen (it starts the raw text of errors).
  DsmlBlockParser(const DsmlTags& tags, std::string_view opener);

  void feed(std::string_view text, std::vector<BlockItem>& out);
  // End of output: an unclosed block becomes an error holding the text after the last complete item.
  void finish(std::vector<BlockItem>& out);

  bool ended() const { return ended_; }
  bool ended_by_eos() const { return ended_by_eos_; }
  // The text after the block-close tag (or after an end-of-sentence that cut the block).
  std::string take_rest();

 private:
  enum class State { kBetween, kInvokeHeader, kInvokeBody, kParamHeader, kParamValue };
  struct Hit {
    size_t pos = std::string::npos;
    size_t which = 0;
  };

  bool step(std::vector<BlockItem>& out);
  bool step_between(std::vector<BlockItem>& out);
  bool step_invoke_body(std::vector<BlockItem>& out);
  bool step_header();
  bool step_param_value();
  Hit find_first(std::initializer_list<std::string_view> markers);
  void move_to(State state, size_t pos);
  void fail_open_block(size_t end, std::string_view message, std::vector<BlockItem>& out);

  const DsmlTags& tags_;
  std::string buf_;
  size_t pos_ = 0;       // next unparsed byte
  size_t resume_ = 0;    // where the next marker search may start
  size_t consumed_ = 0;  // end of the last item handed out (raw text before it is accounted for)
  State state_ = State::kBetween;
  bool ended_ = false;
  bool ended_by_eos_ = false;
  std::string rest_;
  // The invoke being read.
  size_t invoke_start_ = 0;
  size_t value_start_ = 0;
  std::string malformed_;
  BlockItem invoke_;
  RawParameter param_;
};

}  // namespace baleen::chat
