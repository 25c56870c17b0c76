// `baleen`: one binary, one subcommand per program (DESIGN.md "Layers").
#include <cstdio>

#include "app/command.h"
#include "core/error.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"baleen: DeepSeek-V4 inference engine and agent runtime"};
  app.require_subcommand(1);
  baleen::app::add_version_command(app);
  baleen::app::add_inspect_command(app);
  baleen::app::add_make_checkpoint_command(app);
  baleen::app::add_logits_command(app);
  baleen::app::add_generate_command(app);
  baleen::app::add_tokenize_command(app);
  baleen::app::add_render_command(app);
  baleen::app::add_parse_command(app);
  baleen::app::add_sandbox_command(app);
  baleen::app::add_run_command(app);
  baleen::app::add_chat_command(app);
  baleen::app::add_agent_command(app);
  baleen::app::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return baleen::app::kExitUsage;
  } catch (const baleen::Error& e) {
    baleen::log::error("{}", e.what());
    return baleen::app::kExitError;
  }
  return baleen::app::kExitOk;
}
