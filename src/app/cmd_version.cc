#include <cstdio>

#include "app/command.h"

namespace baleen::app {

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print baleen's version");
  cmd->callback([] { std::printf("baleen 0.1.0\n"); });
}

}  // namespace baleen::app
