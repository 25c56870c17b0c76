#include "agent/workspace_tools.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace baleen::agent {
namespace {

using sandbox::Sandbox;
using sandbox::SandboxSpec;
using sandbox::create_sandbox;

namespace fs = std::filesystem;

struct FunctionWorkspace : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen-tools-test-{}", ::getpid());
  std::unique_ptr<Sandbox> sandbox;
  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir / "root" / "sub");
    fs::create_directories(dir / "state");
    std::ofstream(dir / "root" / "a.txt") << "hello\nworld\n";
    SandboxSpec spec;
    spec.image = (dir / "root").string();
    spec.state_root = (dir / "state").string();
    sandbox = create_sandbox("function", spec);
  }
  void TearDown() override {
    sandbox->destroy();
    fs::remove_all(dir);
  }
};

TEST(WorkspaceTools, SchemasKeepTheTrainedNamesAndOrder) {
  std::vector<std::string> names;
  for (const auto& t : workspace_tool_schemas()) names.push_back(t["function"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"run_command", "read_file", "write_file", "list_dir",
                                             "calculator", "search"}));
  const auto& calc = workspace_tool_schemas()[4]["function"]["parameters"]["properties"];
  std::vector<std::string> keys;
  for (const auto& [k, v] : calc.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"op", "a", "b", "round"}));
}

TEST_F(FunctionWorkspace, CalculatorMatchesDoubleArithmeticOnRandomOperands) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> d(-50, 50);
  for (int i = 0; i < 50; ++i) {
    const double a = std::round(d(rng) * 100) / 100, b = std::round(d(rng) * 100) / 100 + 60;
    const double want[] = {a + b, a - b, a * b, a / b};
    const char* ops[] = {"add", "subtract", "multiply", "divide"};
    for (int k = 0; k < 4; ++k) {
      const ToolOutcome o = run_workspace_tool(*sandbox, "calculator", {{"op", ops[k]}, {"a", a}, {"b", b}});
      ASSERT_FALSE(o.is_error) << o.content;
      const double got = chat::Json::parse(o.content)["result"].get<double>();
      EXPECT_NEAR(got, want[k], 5e-5 * std::max(1.0, std::fabs(want[k]))) << ops[k] << " " << a << " " << b;
    }
  }
  EXPECT_EQ(run_workspace_tool(*sandbox, "calculator", {{"op", "modulo"}, {"a", -7}, {"b", 3}}).content,
            "{\"result\": 2}");
  EXPECT_TRUE(run_workspace_tool(*sandbox, "calculator", {{"op", "divide"}, {"a", 1}, {"b", 0}}).is_error);
}

TEST_F(FunctionWorkspace, FileToolsWorkAndRunCommandIsRefused) {
  EXPECT_EQ(run_workspace_tool(*sandbox, "read_file", {{"path", "a.txt"}}).content, "hello\nworld");
  EXPECT_EQ(run_workspace_tool(*sandbox, "write_file", {{"path", "b.txt"}, {"content", "xyz"}}).content,
            "Wrote 3 bytes to b.txt");
  EXPECT_EQ(run_workspace_tool(*sandbox, "list_dir", {{"path", "."}}).content, "a.txt\nb.txt\nsub/");
  EXPECT_NE(run_workspace_tool(*sandbox, "search", {{"text", "world"}}).content.find("a.txt:2:world"),
            std::string::npos);
  const ToolOutcome refused = run_workspace_tool(*sandbox, "run_command", {{"command", "ls"}});
  EXPECT_TRUE(refused.is_error);
  EXPECT_NE(refused.content.find("function sandbox"), std::string::npos);
  const ToolOutcome escape = run_workspace_tool(*sandbox, "read_file", {{"path", "../state"}});
  EXPECT_TRUE(escape.is_error);
  EXPECT_EQ(run_workspace_tool(*sandbox, "list_dir", chat::Json::object()).content,
            "error: list_dir: missing 'path'");
  EXPECT_EQ(run_workspace_tool(*sandbox, "nope", chat::Json::object()).content, "error: unknown tool 'nope'");
}

}  // namespace
}  // namespace baleen::agent
