// The prompt encoder: renders a conversation into the exact prompt string DeepSeek's own encoder
// (encoding/encoding_dsv4.py; V4.1 encoding/encoding.py) produces, for the dialects of chat/dialect.h.
// Pure function of its inputs; throws baleen::Error for input the reference encoder rejects.
#pragma once

#include <string>

#include "chat/conversation.h"
#include "chat/dialect.h"

namespace baleen::chat {

// Reasoning effort: a level name ("" = the dialect's default; "low", "high", "max", v4.1 also "xhigh"), or a
// numeric v4.1 budget in [1, 100] (budget != 0).
struct ReasoningEffort {
  std::string level;
  int budget = 0;
};

struct RenderOptions {
  Dialect dialect = Dialect::kV4;
  bool thinking = false;  // thinking mode ("thinking") vs chat mode ("chat")
  ReasoningEffort effort;
  bool drop_thinking = true;  // forced off when any message carries tools (interleaved thinking)
};

// The prompt: BOS, effort text, every message, and after a final user/developer turn the
// "<｜Assistant｜>" + "<think>" / "</think>" generation suffix.
std::string render_prompt(const Conversation& conversation, const RenderOptions& options);

// The DSML block of an assistant turn's tool calls, "\n\n<｜DSML｜tool_calls>\n...\n</｜DSML｜tool_calls>"
// (empty for no calls).
std::string render_tool_calls(const std::vector<ToolCall>& calls, Dialect dialect);

// Attaches request-level tools (and response_format) the way vLLM's DeepSeek-V4 tokenizer does: onto the
// first message when it is system or developer, else onto a new empty system message put first.
void attach_request_tools(Conversation& conversation, const Json& tool_functions,
                          const Json& response_format);

}  // namespace baleen::chat
