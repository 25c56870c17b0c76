#include "app/chat_options.h"

#include <cstdio>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace baleen::app {

void ChatOptions::add_to(CLI::App& cmd) {
  ModelFlags::add_to(cmd, "paper");
  cmd.add_option("--tokenizer", tokenizer, "tokenizer.json (default: the one scripts/setup.sh installs)");
  cmd.add_flag("--thinking", thinking, "thinking mode (the model reasons before answering)");
  cmd.add_option("-n,--max-tokens", max_tokens, "most tokens generated per model turn")
      ->capture_default_str();
  cmd.add_option("--temperature", temperature, "sampling temperature; 0 is greedy")->capture_default_str();
  cmd.add_option("--seed", seed, "sampling seed")->capture_default_str();
  cmd.add_option("--dialect", dialect, "prompt dialect: v4 | v4-0731 | v4.1")->capture_default_str();
}

std::string ChatOptions::tokenizer_path() const {
  const std::string path = tokenizer.empty() ? tokenizer::default_tokenizer_path().string() : tokenizer;
  check(std::filesystem::exists(path), "tokenizer {} not found: run scripts/setup.sh or pass --tokenizer",
        path);
  return path;
}

session::TurnOptions ChatOptions::turn_options() const {
  check(max_tokens > 0, "-n must be > 0, got {}", max_tokens);
  session::TurnOptions t;
  t.render.dialect = chat::parse_dialect(dialect);
  t.render.thinking = thinking;
  t.sampling.temperature = temperature;
  t.sampling.seed = seed;
  t.max_tokens = max_tokens;
  return t;
}

void EventPrinter::print(const chat::ParseEvent& e) {
  using Kind = chat::ParseEvent::Kind;
  if (e.kind == Kind::kReasoning) {
    if (!in_reasoning_) std::fputs("<think>", stderr);
    in_reasoning_ = true;
    std::fputs(e.text.c_str(), stderr);
    return;
  }
  if (in_reasoning_) std::fputs("</think>\n", stderr);
  in_reasoning_ = false;
  if (e.kind == Kind::kContent) {
    std::fputs(e.text.c_str(), stdout);
    content_open_ = true;
  } else if (e.kind == Kind::kToolCall) {
    if (content_open_) std::fputs("\n", stdout);
    content_open_ = false;
    const chat::Json line = {
        {"tool_call", {{"id", e.call.id}, {"name", e.call.name}, {"arguments", e.call.arguments}}}};
    std::printf("%s\n", line.dump().c_str());
  } else {
    std::fprintf(stderr, "parse error: %s\n", e.error.message.c_str());
  }
  std::fflush(stdout);
  std::fflush(stderr);
}

void EventPrinter::end() {
  if (in_reasoning_) std::fputs("</think>\n", stderr);
  if (content_open_) std::fputs("\n", stdout);
  in_reasoning_ = content_open_ = false;
  std::fflush(stdout);
}

void print_turn_summary(const session::TurnResult& r) {
  std::fprintf(stderr, "[finish %s; prompt %lld tokens (%lld reused), %lld generated]\n",
               std::string(session::finish_reason_name(r.finish)).c_str(),
               static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.reused_tokens),
               static_cast<long long>(r.completion_tokens));
}

}  // namespace baleen::app
