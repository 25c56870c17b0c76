// The CLI tests' command runner (tests/core/command_line.h) and whether the committed baleen-nano is there
// to run.
#pragma once

#include <filesystem>

#include "../core/command_line.h"
#include "../model/nano_checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace baleen::agent::testing {

using baleen::test::Outcome;
using baleen::test::run_command_line;

// The CLI runs baleen-nano with the installed tokenizer.
inline bool nano_available() {
  return std::filesystem::exists(tokenizer::default_tokenizer_path()) && baleen::test::nano_unpacked();
}

}  // namespace baleen::agent::testing
