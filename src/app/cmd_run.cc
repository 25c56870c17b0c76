// `baleen run`: one user turn on a chat model (default: the committed baleen-nano); prints the answer on
// stdout as it streams, reasoning on stderr between "<think>" marks, tool calls as JSON lines.
// `baleen run --requests IN.jsonl --output OUT.jsonl` answers one request per line (the `baleen render`
// input) with one loaded model, for harnesses such as reference/nano/eval.py.
#include <cstdio>
#include <string>

#include "app/chat_options.h"
#include "app/command.h"
#include "app/jsonl.h"
#include "chat/output_parser.h"
#include "chat/render_request.h"
#include "core/error.h"
#include "session/loaded_model.h"
#include "session/turn_runner.h"

namespace baleen::app {
namespace {

struct Options {
  ChatOptions chat;
  std::string prompt, system;
  std::string requests, output;
};

void run(const Options& o) {
  session::LoadedModel loaded(session::resolve_model_dir(o.chat.model), o.chat.tokenizer_path(), o.chat.options());
  session::TurnRunner session(loaded.model(), loaded.tokenizer(), o.chat.storage());
  chat::Conversation c;
  if (!o.system.empty()) c.messages.push_back(session::text_message(chat::Role::kSystem, o.system));
  c.messages.push_back(session::text_message(chat::Role::kUser, o.prompt));
  session::TurnOptions turn = o.chat.turn_options();
  EventPrinter printer;
  turn.on_event = [&](const chat::ParseEvent& e) { printer.print(e); };
  const session::TurnResult r = session.turn(c, turn);
  printer.end();
  print_turn_summary(r);
}

// One request line: its "tools" go to the turn (the renderer and the parser both need them), the rest
// through render_request_from_json, so a request means here what it means to `baleen render`.
chat::Json answer_request(session::TurnRunner& session, session::TurnOptions turn, const std::string& line) {
  chat::Json json = chat::parse_json_text(line, "request");
  check(json.is_object(), "request: expected a JSON object");
  if (const auto tools = json.find("tools"); tools != json.end()) {
    turn.tools = tools->is_array() && tools->empty() ? chat::Json() : *tools;
    json.erase(tools);
  }
  const chat::RenderRequest request = chat::render_request_from_json(json);
  turn.render = request.options;
  const session::TurnResult r = session.turn(request.conversation, turn);
  chat::Json out = chat::parsed_output_json({r.reasoning, r.content, r.tool_calls, r.errors});
  out["raw"] = r.raw_text;
  out["finish_reason"] = std::string(session::finish_reason_name(r.finish));
  out["prompt_tokens"] = r.prompt_tokens;
  out["reused_tokens"] = r.reused_tokens;
  out["completion_tokens"] = r.completion_tokens;
  return out;
}

void run_requests(const Options& o) {
  session::LoadedModel loaded(session::resolve_model_dir(o.chat.model), o.chat.tokenizer_path(), o.chat.options());
  session::TurnRunner session(loaded.model(), loaded.tokenizer(), o.chat.storage());
  session::TurnOptions turn = o.chat.turn_options();
  transform_jsonl(o.requests, o.output, [&](const std::string& line, size_t number) {
    turn.id_seed = number;  // stable tool-call ids across runs, distinct across lines
    return answer_request(session, turn, line);
  });
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("run", "One chat turn: prints the model's answer (default model: baleen-nano)");
  auto* prompt = cmd->add_option("-p,--prompt", opts->prompt, "the user message");
  cmd->add_option("--system", opts->system, "system message")->needs(prompt);
  auto* requests =
      cmd->add_option("--requests", opts->requests,
                      "JSONL of requests {messages, tools, thinking, reasoning_effort, dialect}; "
                      "their thinking/dialect override the flags")
          ->excludes(prompt);
  cmd->add_option("--output", opts->output,
                  "JSONL of {reasoning, content, tool_calls, errors, raw, "
                  "finish_reason, prompt_tokens, reused_tokens, completion_tokens}")
      ->needs(requests);
  requests->needs("--output");
  opts->chat.add_to(*cmd);
  cmd->callback([opts] {
    check(!opts->prompt.empty() || !opts->requests.empty(),
          "give -p PROMPT or --requests FILE --output FILE");
    if (opts->requests.empty()) {
      run(*opts);
    } else {
      run_requests(*opts);
    }
  });
}

}  // namespace baleen::app
