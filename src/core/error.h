// baleen's one error type. Thrown at I/O and parse boundaries with a message that names the file,
// tensor or field and what was expected; turned into an exit code or an API error at the edge.
// Kernels never throw.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace baleen {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Formats the message with fmt and throws Error.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws Error with the formatted message when `condition` is false.
template <typename... Args>
void check(bool condition, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) fail(format, std::forward<Args>(args)...);
}

}  // namespace baleen
