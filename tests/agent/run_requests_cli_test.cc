// `baleen run --requests IN --output OUT` end to end through the built binary on baleen-nano: the
// harness path reference/nano/eval.py takes (one loaded model, one parsed answer per request line).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/workspace_tools.h"
#include "chat/conversation.h"
#include "cli_outcome.h"

namespace baleen::agent {
namespace {

namespace fs = std::filesystem;

using testing::nano_available;
using testing::Outcome;
Outcome run(const std::string& command) {
  return testing::run_command_line(command);
}

// A scratch directory with the request lines written to in.jsonl.
struct Requests {
  fs::path dir;
  explicit Requests(const std::vector<chat::Json>& lines, const std::string& extra = "") {
    dir = fs::temp_directory_path() / ("baleen-run-requests-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream in(dir / "in.jsonl");
    for (const chat::Json& line : lines) in << line.dump() << '\n';
    in << extra;
  }
  ~Requests() { fs::remove_all(dir); }
  Outcome run_baleen() const {
    return run(std::string(BALEEN_BINARY) + " run --requests " + (dir / "in.jsonl").string() + " --output " +
               (dir / "out.jsonl").string() + " -n 120");
  }
  std::vector<chat::Json> answers() const {
    std::ifstream out(dir / "out.jsonl");
    std::vector<chat::Json> rows;
    for (std::string line; std::getline(out, line);) rows.push_back(chat::Json::parse(line));
    return rows;
  }
};

chat::Json user_turn(const std::string& text) {
  return {{"role", "user"}, {"content", text}};
}

TEST(RunRequests, ToolCallThenItsResultReusesThePrefix) {
  if (!nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const chat::Json ask = {{"messages", {user_turn("How many lines are in notes.txt?")}},
                          {"tools", workspace_tool_schemas()},
                          {"thinking", false}};
  chat::Json answered = ask;  // the same conversation with the call and a result: a prefix extension
  answered["messages"].push_back(
      {{"role", "assistant"},
       {"content", ""},
       {"tool_calls",
        {{{"id", "call_0"},
          {"type", "function"},
          {"function", {{"name", "run_command"}, {"arguments", R"({"command": "wc -l notes.txt"})"}}}}}}});
  answered["messages"].push_back({{"role", "tool"}, {"tool_call_id", "call_0"}, {"content", "7 notes.txt"}});
  const Requests requests(std::vector<chat::Json>{ask, answered});
  const Outcome outcome = requests.run_baleen();
  ASSERT_EQ(outcome.status, 0) << outcome.out;
  const std::vector<chat::Json> rows = requests.answers();
  ASSERT_EQ(rows.size(), 2u);

  const chat::Json& call = rows[0];
  EXPECT_EQ(call["finish_reason"], "tool_calls") << call.dump();
  EXPECT_TRUE(call["errors"].empty()) << call.dump();
  ASSERT_EQ(call["tool_calls"].size(), 1u) << call.dump();
  EXPECT_EQ(call["tool_calls"][0]["name"], "run_command");
  EXPECT_TRUE(call["tool_calls"][0]["arguments"]["command"].is_string()) << call.dump();
  EXPECT_GT(call["prompt_tokens"].get<int64_t>(), 0);
  EXPECT_EQ(call["reused_tokens"], 0);

  const chat::Json& final_answer = rows[1];
  EXPECT_EQ(final_answer["finish_reason"], "stop") << final_answer.dump();
  EXPECT_TRUE(final_answer["tool_calls"].empty()) << final_answer.dump();
  EXPECT_NE(final_answer["content"].get<std::string>().find('7'), std::string::npos) << final_answer.dump();
  // The second prompt starts with the first one: only the call and its result are prefilled.
  EXPECT_GE(final_answer["reused_tokens"].get<int64_t>(), call["prompt_tokens"].get<int64_t>());
}

TEST(RunRequests, BadLineFailsWithItsLineNumber) {
  if (!nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const chat::Json hello = {{"messages", {user_turn("Hi!")}}};
  const Requests requests(std::vector<chat::Json>{hello}, "{\"messages\": [}\n");
  const Outcome outcome = requests.run_baleen();
  EXPECT_EQ(outcome.status, 1) << outcome.out;
  EXPECT_NE(outcome.out.find("in.jsonl:2:"), std::string::npos) << outcome.out;
}

TEST(RunRequests, PromptAndRequestsExcludeEachOther) {
  const Outcome both = run(std::string(BALEEN_BINARY) + " run -p hi --requests a.jsonl --output b.jsonl");
  EXPECT_NE(both.status, 0);
  const Outcome neither = run(std::string(BALEEN_BINARY) + " run");
  EXPECT_NE(neither.status, 0);
  EXPECT_NE(neither.out.find("--requests"), std::string::npos) << neither.out;
}

}  // namespace
}  // namespace baleen::agent
