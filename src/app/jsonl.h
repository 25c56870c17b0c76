// Line-by-line JSONL transformation for the harness subcommands (render, parse): each non-blank input
// line becomes one output line; a baleen::Error on a line is rethrown as "FILE:LINE: message".
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace baleen::app {

// `transform(line, line_number)` returns the JSON object written for that line.
template <typename Transform>
void transform_jsonl(const std::string& input, const std::string& output, Transform transform) {
  std::ifstream in(input, std::ios::binary);
  check(in.good(), "{}: cannot open for reading", input);
  std::ofstream out(output, std::ios::binary);
  check(out.good(), "{}: cannot open for writing", output);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json result;
    try {
      result = transform(line, number);
    } catch (const Error& e) {
      fail("{}:{}: {}", input, number, e.what());
    }
    out << result.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  }
  check(out.good(), "{}: write failed", output);
}

}  // namespace baleen::app
