// Each subcommand of the `baleen` program registers itself on the CLI11 app through one add_*
// function (defined in its own cmd_<name>.cc). A subcommand's callback throws baleen::Error for
// user-facing failures; main turns that into exit code 1 and a one-line message.
#pragma once

#include <CLI/CLI.hpp>

namespace baleen::app {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // bad input, missing file, failed check
inline constexpr int kExitUsage = 2;  // bad command line

void add_version_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_make_checkpoint_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_render_command(CLI::App& app);
void add_parse_command(CLI::App& app);
void add_sandbox_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_agent_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace baleen::app
