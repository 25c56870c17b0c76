// Counts of observations by upper bound, with their sum and number: Prometheus' histogram, so a
// latency's quantiles can be read off a scrape. Plain value; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace baleen {

struct Histogram {
  explicit Histogram(std::vector<double> upper_bounds)
      : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

  void observe(double value) {
    const auto at = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
    ++counts[static_cast<size_t>(at)];
    sum += value;
    ++count;
  }

  std::vector<double> bounds;   // ascending
  std::vector<int64_t> counts;  // counts[i]: in (bounds[i-1], bounds[i]]; the last: above every bound
  double sum = 0;
  int64_t count = 0;
};

}  // namespace baleen
