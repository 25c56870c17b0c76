#include "server/completions_request.h"

#include <array>

#include "chat/prompt_texts.h"
#include "server/request_fields.h"

namespace baleen::server {
namespace {

using chat::Json;

constexpr std::array<std::string_view, 17> kKnownFields = {
    "model",  "prompt", "max_tokens", "temperature", "top_p",          "seed",            "stop",
    "stream", "stream_options", "n",  "logprobs",    "echo",           "frequency_penalty", "presence_penalty",
    "user",   "suffix", "best_of"};

// A string, an array of one string, or an array of token ids (an array of one such array).
void read_prompt(const Json& body, int64_t vocab_size, CompletionsRequest& out) {
  const Json* p = field(body, "prompt");
  if (!p) reject("prompt", "prompt: missing");
  const Json* prompt = p;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) prompt = &(*p)[0];
  else if (p->is_array() && !p->empty() && ((*p)[0].is_string() || (*p)[0].is_array()))
    unsupported("prompt", "prompt: only one prompt per request is supported, got {}", p->size());
  if (prompt->is_string()) {
    std::string text = prompt->get<std::string>();
    if (text.empty()) reject("prompt", "prompt: must not be empty");
    if (!text.starts_with(chat::text::kBos)) text.insert(0, chat::text::kBos);
    out.prompt = std::move(text);
    return;
  }
  if (!prompt->is_array() || prompt->empty())
    reject("prompt", "prompt: expected a string or a non-empty array of token ids");
  std::vector<int32_t> ids;
  for (size_t i = 0; i < prompt->size(); ++i) {
    const Json& id = (*prompt)[i];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab_size)
      reject(fmt::format("prompt[{}]", i), "prompt[{}]: expected a token id in [0, {}), got {}", i, vocab_size,
             id.dump());
    ids.push_back(id.get<int32_t>());
  }
  out.prompt = std::move(ids);
}

}  // namespace

CompletionsRequest parse_completions_request(std::string_view text, const session::TurnOptions& defaults,
                                             int64_t vocab_size) {
  const Json body = parse_body(text, kKnownFields);
  CompletionsRequest out;
  out.turn = defaults;
  out.turn.raw_output = true;
  out.turn.render.thinking = false;  // the parser is not used; nothing starts inside reasoning
  out.turn.tools = Json();
  out.model = string_field(body, "model").value_or("");
  out.choices = choices_field(body);
  if (auto n = int_field(body, "best_of"); n && *n != 1) unsupported("best_of", "best_of: only 1 is supported");
  read_penalties(body, out.turn.penalties);
  if (auto n = int_field(body, "logprobs")) {
    if (*n < 0 || *n > 5) reject("logprobs", "logprobs: must be in [0, 5], got {}", *n);
    out.turn.logprobs = *n;
  }
  if (auto s = string_field(body, "suffix"); s && !s->empty()) unsupported("suffix", "suffix: not supported");
  out.echo = bool_field(body, "echo", false);
  if (out.echo && out.turn.logprobs >= 0)
    unsupported("logprobs", "logprobs: not supported with echo (the prompt's tokens have no logprobs here)");
  read_prompt(body, vocab_size, out);
  read_sampling(body, out.turn.sampling);
  out.turn.stop_sequences = stop_sequences(body);
  if (auto n = int_field(body, "max_tokens")) {
    if (*n < 1) reject("max_tokens", "max_tokens: must be >= 1, got {}", *n);
    out.turn.max_tokens = *n;
    out.max_tokens_given = true;
  }
  out.stream = bool_field(body, "stream", false);
  if (const Json* options = field(body, "stream_options")) {
    if (!out.stream) reject("stream_options", "stream_options: only allowed when stream is true");
    if (!options->is_object()) reject("stream_options", "stream_options: expected an object");
    check_known_keys(*options, std::array<std::string_view, 1>{"include_usage"}, "stream_options");
    out.include_usage = bool_field(*options, "include_usage", false, "stream_options");
  }
  return out;
}

}  // namespace baleen::server
