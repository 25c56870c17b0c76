// The JSON field readers every request parser of the server shares (chat completions, messages,
// responses). A null field reads as absent, as OpenAI and Anthropic both treat it; a wrong type or value
// throws ApiError 400 whose param and message name the field (`where` is the path of the enclosing object,
// empty at the top level).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/python_json.h"
#include "engine/repetition_penalties.h"
#include "engine/sampler.h"
#include "session/turn_runner.h"
#include "server/api_error.h"

namespace baleen::server {

template <typename... Args>
[[noreturn]] void reject(std::string param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError(400, fmt::format(format, std::forward<Args>(args)...), std::move(param));
}

template <typename... Args>
[[noreturn]] void unsupported(std::string param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError(400, fmt::format(format, std::forward<Args>(args)...), std::move(param),
                 "unsupported_value");
}

// "where.key", or "key" at the top level.
std::string field_path(std::string_view where, std::string_view key);

// The field's value, or null when it is absent or JSON null.
const chat::Json* field(const chat::Json& object, std::string_view key);

bool bool_field(const chat::Json& object, std::string_view key, bool fallback, std::string_view where = "");
std::optional<double> number_field(const chat::Json& object, std::string_view key, double lo, double hi,
                                   std::string_view where = "");
std::optional<int64_t> int_field(const chat::Json& object, std::string_view key, std::string_view where = "");
std::optional<std::string> string_field(const chat::Json& object, std::string_view key,
                                        std::string_view where = "");

// temperature [0, 2], top_p [0, 1], top_k >= 0 and seed where present; the sampler checks the rest.
void read_sampling(const chat::Json& body, SamplingParams& sampling);

// OpenAI's `stop`: one string or an array of strings.
std::vector<std::string> stop_sequences(const chat::Json& body);

// OpenAI's `n` (choices to generate, in [1, 128]; 1 where absent) after checking `user`, which must be a
// string.
int64_t choices_field(const chat::Json& body);

// OpenAI's presence_penalty and frequency_penalty, each a number in [-2, 2] where present.
void read_penalties(const chat::Json& body, Penalties& penalties);

// An API's reasoning-effort name (Anthropic's output_config.effort, OpenAI's reasoning.effort) as V4's
// level: low and minimal -> "low", medium and high -> "high", xhigh and max -> "max".
std::string v4_effort(std::string_view level, std::string_view param);

// A forced tool call (tool_choice required / any / a named tool): decoding is constrained to a call of
// `tools` (the offered ones); a 400 naming `param` when there are none or one cannot be spelled in DSML.
void force_tool_call(const chat::Json& tools, bool parallel, std::string_view param, session::TurnOptions& turn);

// The body as a JSON object: invalid UTF-8, malformed JSON or another type is a 400, and so is a
// top-level key not in `known` (code "unknown_parameter", the key as param).
chat::Json parse_body(std::string_view body, std::span<const std::string_view> known);

// Refuses every key of `object` not in `known`, naming it as where.key.
void check_known_keys(const chat::Json& object, std::span<const std::string_view> known,
                      std::string_view where);

}  // namespace baleen::server
