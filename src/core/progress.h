// Progress of a long task on stderr: a bar with rate and ETA when stderr is a terminal, a log line every
// few seconds otherwise. Silent for tasks that finish within a second. One thread drives one Progress.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace baleen {

class Progress {
 public:
  // `unit` "B" prints sizes (KiB, MiB, ...); anything else prints counts followed by the unit.
  Progress(std::string label, uint64_t total, std::string unit = "B");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(uint64_t amount);
  void finish();

 private:
  void report(bool final);

  std::string label_;
  std::string unit_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  bool tty_ = false;
  bool shown_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace baleen
