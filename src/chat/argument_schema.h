// Tool-call arguments from DSML parameters, typed with the tool's JSON schema: string="true" values are
// kept byte for byte; string="false" values are parsed as JSON and coerced to the schema's type (numbers,
// booleans, objects, arrays; a string-typed parameter keeps its text). Failures keep the raw text and
// return an error message; nothing is dropped.
#pragma once

#include <string>
#include <vector>

#include "chat/python_json.h"

namespace baleen::chat {

// An error of parsing model output: what went wrong, and the model's text it stands for, byte for byte.
struct ParseError {
  std::string message;
  std::string raw;

  bool operator==(const ParseError&) const = default;
};

struct RawParameter {
  std::string name;
  std::string value;       // the text between the parameter tags, untouched
  bool is_string = false;  // string="true"
  bool has_string_attr = true;
};

struct TypedArguments {
  Json arguments = Json::object();
  std::vector<ParseError> errors;  // one per parameter that kept its raw text
};

// `function` is the tool's function object {name, description, parameters}, or null for an unknown tool.
// A lone parameter named "arguments" or "input" holding a JSON object, where the schema has no such
// property, stands for the whole argument object (models wrap arguments that way).
TypedArguments type_arguments(const std::vector<RawParameter>& params, const Json& function);

}  // namespace baleen::chat
