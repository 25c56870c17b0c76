// Test support: runs the streaming parser under every chunking of a text (whole, each byte, random splits)
// and checks that all give the same events; tests then assert on the one result.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "chat/output_parser.h"

namespace baleen::chat::testing {

// Feeds `text` cut at `cuts` (sorted offsets) and returns every event.
inline std::vector<ParseEvent> run_chunked(std::string_view text, const ParserOptions& options,
                                           const std::vector<size_t>& cuts) {
  OutputParser parser(options);
  std::vector<ParseEvent> events;
  size_t start = 0;
  for (size_t cut : cuts) {
    for (auto& e : parser.feed(text.substr(start, cut - start))) events.push_back(std::move(e));
    start = cut;
  }
  for (auto& e : parser.feed(text.substr(start))) events.push_back(std::move(e));
  for (auto& e : parser.finish()) events.push_back(std::move(e));
  return events;
}

// Whole, every byte, chunks of 2..7 bytes, and 20 random splits from a fixed seed.
inline std::vector<std::vector<size_t>> chunkings(size_t n, uint64_t seed = 7) {
  std::vector<std::vector<size_t>> all{{}};
  for (size_t step = 1; step <= 7; ++step) {
    std::vector<size_t> cuts;
    for (size_t i = step; i < n; i += step) cuts.push_back(i);
    all.push_back(cuts);
  }
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 20 && n > 1; ++k) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < n; ++i)
      if (rng() % 4 == 0) cuts.push_back(i);
    all.push_back(cuts);
  }
  return all;
}

// Parses under every chunking, fails the test if any differs from the whole-text parse, returns the result.
inline ParsedOutput parse_every_way(std::string_view text, const ParserOptions& options) {
  const std::vector<ParseEvent> whole = coalesce(run_chunked(text, options, {}));
  for (const auto& cuts : chunkings(text.size())) {
    if (coalesce(run_chunked(text, options, cuts)) != whole) {
      ADD_FAILURE() << "chunking with " << cuts.size() << " cuts gave different events for: " << text;
      break;
    }
  }
  ParsedOutput result;
  collect(whole, result);
  return result;
}

}  // namespace baleen::chat::testing
