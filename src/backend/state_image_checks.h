// What every backend's import_state checks of a StateImage before it trusts it: each size against the
// state spec and the tokens the image says it holds. Throw Error naming the part (`what`).
#pragma once

#include <algorithm>
#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace baleen {

inline void check_window_image(const LayerImage& li, const KvCodec& codec, int64_t window, int64_t length,
                               const std::string& what) {
  const int64_t held = std::min(length, window), rb = codec.row_bytes();
  check(li.window_rows == held && static_cast<int64_t>(li.window.size()) == held * rb,
        "{}: window of {} rows ({} bytes), expected {} rows of {} bytes", what, li.window_rows, li.window.size(),
        held, rb);
}

inline void check_compressor_image(const CompressorImage& img, const CompressorSpec& spec, int64_t length,
                                   const std::string& what) {
  const int64_t m = spec.ratio, dim = spec.dim, width = (spec.overlap ? 2 : 1) * dim;
  const auto rows = static_cast<size_t>(img.tail_rows * width);
  check(img.tail_rows == length % m && img.entries == length / m,
        "{}: {} tail rows and {} entries do not fit {} tokens at ratio {}", what, img.tail_rows, img.entries, length,
        m);
  check(img.tail_kv.size() == rows && img.tail_gate.size() == rows, "{}: tail of {} values, expected {}", what,
        img.tail_kv.size(), rows);
  const size_t overlap = spec.overlap && length >= m ? static_cast<size_t>(m * dim) : 0;
  check(img.overlap_kv.size() == overlap && img.overlap_gate.size() == overlap,
        "{}: overlap of {} values, expected {}", what, img.overlap_kv.size(), overlap);
  const int64_t rb = spec.entries.row_bytes();
  check(static_cast<int64_t>(img.rows.size()) == img.entries * rb, "{}: {} entry bytes, expected {}", what,
        img.rows.size(), img.entries * rb);
}

}  // namespace baleen
