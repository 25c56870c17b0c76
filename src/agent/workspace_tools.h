// The agent's built-in tools over a Sandbox: run_command, read_file, write_file, list_dir and calculator
// with the schemas (names, parameters, key order) baleen-nano was trained on (reference/nano/tools.py),
// plus search. A failing call is a tool result starting "error: " (the trained spelling), never a throw.
#pragma once

#include <string>

#include "chat/conversation.h"
#include "sandbox/sandbox.h"

namespace baleen::agent {

// OpenAI tool objects, in the trained order; search comes last.
const chat::Json& workspace_tool_schemas();

struct ToolOutcome {
  std::string content;
  bool is_error = false;
};

// Validates the arguments against the schema and runs the call. run_command needs a substrate that runs
// processes: on `function` it is refused with a tool error.
ToolOutcome run_workspace_tool(sandbox::Sandbox& sandbox, const std::string& name,
                               const chat::Json& arguments);

// How tools.py spells a number: integers without a point, others to at most 4 decimals.
std::string number_text(double value);

}  // namespace baleen::agent
