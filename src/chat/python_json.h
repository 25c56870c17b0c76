// JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it: ", " and ": "
// separators, object keys in their stored order, non-ASCII kept as UTF-8, Python's escapes and Python's
// float repr (shortest round-trip, "1.0", "1e-05", "1e+16"). DeepSeek's encoder writes tool schemas and
// non-string tool arguments this way, so the prompt depends on every byte of it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace baleen::chat {

using Json = nlohmann::ordered_json;

// Serializes `value`; never throws for values parsed from JSON text.
std::string python_json_dumps(const Json& value);

// Python's repr() of a float (the number part of json.dumps), e.g. 0.1 -> "0.1", 1e16 -> "1e+16".
std::string python_float_repr(double value);

// Parses JSON text; a syntax error or invalid UTF-8 becomes baleen::Error naming `what`.
Json parse_json_text(std::string_view text, std::string_view what);

}  // namespace baleen::chat
