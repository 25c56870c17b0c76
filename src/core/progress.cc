#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace baleen {
namespace {

using Clock = std::chrono::steady_clock;

std::string amount(double v, const std::string& unit) {
  if (unit != "B") return fmt::format("{:.0f} {}", v, unit);
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024.0 && i < 4) {
    v /= 1024.0;
    ++i;
  }
  return fmt::format("{:.1f} {}", v, units[i]);
}

}  // namespace

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(uint64_t amount_done) {
  done_ += amount_done;
  const auto now = Clock::now();
  const double since_start = std::chrono::duration<double>(now - start_).count();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  // A bar redraws a few times a second; a log gets a line every 5 s; nothing in the first second.
  if (since_start < 1.0 || since_last < (tty_ ? 0.2 : 5.0)) return;
  last_ = now;
  report(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (shown_) report(true);
}

void Progress::report(bool final) {
  shown_ = true;
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const double left = total_ > done_ && rate > 0 ? static_cast<double>(total_ - done_) / rate : 0.0;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const std::string text = fmt::format(
      "{}: {} / {} ({:.0f}%), {}/s, ETA {:.0f} s", label_, amount(static_cast<double>(done_), unit_),
      amount(static_cast<double>(total_), unit_), 100.0 * fraction, amount(rate, unit_), left);
  if (!tty_) {
    log::info("{}", text);
    return;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  std::fprintf(stderr, "\r[%s%s] %s\x1b[K%s", std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), text.c_str(),
               final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace baleen
