// DeepSeek-V4's added tokens that the V3 tokenizer.json (the one baleen installs) lacks (ids
// 128815-128846: <think>, </think>, the DSML marker ｜DSML｜, <｜latest_reminder｜>, task tokens, ...).
// Loading them on top of the V3 file gives V4's tokenizer; a V4 file that has them already agrees.
#pragma once

#include <filesystem>
#include <span>

#include "tokenizer/tokenizer.h"

namespace baleen::tokenizer {

std::span<const AddedToken> deepseek_v4_added_tokens();

// Tokenizer::load(file) plus deepseek_v4_added_tokens().
Tokenizer load_deepseek_v4(const std::filesystem::path& file);

}  // namespace baleen::tokenizer
