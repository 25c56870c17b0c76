// Validation reports every problem it finds in one Error; this formats such a list: one indented line per
// problem, the first 100 of them, then how many more there are. Pure function.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

namespace baleen {

inline std::string problem_listing(const std::vector<std::string>& problems, size_t max_listed = 100) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < max_listed; ++i) out += "\n  " + problems[i];
  if (problems.size() > max_listed) out += fmt::format("\n  ... and {} more", problems.size() - max_listed);
  return out;
}

}  // namespace baleen
