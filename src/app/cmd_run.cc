// `baleen run`: one user turn on a chat model (default: the committed baleen-nano); prints the answer on
// stdout as it streams, reasoning on stderr between "<think>" marks, tool calls as JSON lines.
#include <cstdio>
#include <string>

#include "agent/session/chat_session.h"
#include "agent/session/loaded_model.h"
#include "app/chat_options.h"
#include "app/command.h"
#include "core/error.h"

namespace baleen::app {
namespace {

struct Options {
  ChatOptions chat;
  std::string prompt, system;
};

void run(const Options& o) {
  agent::LoadedModel loaded(agent::resolve_model_dir(o.chat.model), o.chat.tokenizer_path());
  agent::ChatSession session(loaded.model(), loaded.tokenizer());
  chat::Conversation c;
  if (!o.system.empty()) c.messages.push_back(agent::text_message(chat::Role::kSystem, o.system));
  c.messages.push_back(agent::text_message(chat::Role::kUser, o.prompt));
  agent::TurnOptions turn = o.chat.turn_options();
  EventPrinter printer;
  turn.on_event = [&](const chat::ParseEvent& e) { printer.print(e); };
  const agent::TurnResult r = session.turn(c, turn);
  printer.end();
  print_turn_summary(r);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("run", "One chat turn: prints the model's answer (default model: baleen-nano)");
  cmd->add_option("-p,--prompt", opts->prompt, "the user message")->required();
  cmd->add_option("--system", opts->system, "system message");
  opts->chat.add_to(*cmd);
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
