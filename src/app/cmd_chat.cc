// `baleen chat`: an interactive conversation on stdin, one user message per line. History is kept and the
// session state's prefix is reused from turn to turn. "/reset" starts over, "/exit" (or end of input) quits.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "app/chat_options.h"
#include "app/command.h"
#include "session/loaded_model.h"
#include "session/turn_runner.h"

namespace baleen::app {
namespace {

struct Options {
  ChatOptions chat;
  std::string system;
};

chat::Conversation fresh(const std::string& system) {
  chat::Conversation c;
  if (!system.empty()) c.messages.push_back(session::text_message(chat::Role::kSystem, system));
  return c;
}

void run(const Options& o) {
  session::LoadedModel loaded(session::resolve_model_dir(o.chat.model), o.chat.tokenizer_path(), o.chat.options());
  session::TurnRunner session(loaded.model(), loaded.tokenizer(), o.chat.storage());
  session::TurnOptions turn = o.chat.turn_options();
  EventPrinter printer;
  turn.on_event = [&](const chat::ParseEvent& e) { printer.print(e); };
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  chat::Conversation c = fresh(o.system);
  std::string line;
  while (true) {
    if (interactive) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line.empty()) continue;
    if (line == "/reset") {
      c = fresh(o.system);
      continue;
    }
    c.messages.push_back(session::text_message(chat::Role::kUser, line));
    const session::TurnResult r = session.turn(c, turn);
    printer.end();
    print_turn_summary(r);
    chat::Message answer = session::text_message(chat::Role::kAssistant, r.content);
    answer.reasoning_content = r.reasoning;
    answer.tool_calls = r.tool_calls;
    c.messages.push_back(std::move(answer));
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("chat", "Interactive chat on stdin, one message per line (/reset, /exit)");
  cmd->add_option("--system", opts->system, "system message");
  opts->chat.add_to(*cmd);
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
