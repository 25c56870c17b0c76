// Test support: random rows stored through KvCodec into pages in KvPageLayout (the pages in shuffled order,
// so a kernel that ignores the paging reads the wrong rows), with the decoded rows the CPU truth sees.
#pragma once

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "model/kv_codec.h"

namespace baleen::test {

struct PagedRows {
  KvPageLayout layout;
  std::vector<uint8_t> pages;   // the pool's bytes
  std::vector<int32_t> row_of;  // logical row i is pool row row_of[i] (page·P + slot)
  Tensor decoded;               // [n, dim] what a reader of the stored rows sees

  PagedRows(const KvCodec& codec, int64_t page_rows, const Tensor& rows, std::mt19937& rng)
      : layout{codec, page_rows}, decoded({rows.dim(0), codec.dim()}) {
    const int64_t n = rows.dim(0), n_pages = (n + page_rows - 1) / page_rows + 1;  // one unused page
    pages.assign(static_cast<size_t>(n_pages * layout.page_bytes()), 0xA5);
    std::vector<int32_t> page_order(static_cast<size_t>(n_pages));
    std::iota(page_order.begin(), page_order.end(), 0);
    std::shuffle(page_order.begin(), page_order.end(), rng);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t page = page_order[static_cast<size_t>(i / page_rows)], slot = i % page_rows;
      uint8_t* base = pages.data() + page * layout.page_bytes();
      codec.encode(rows.data() + i * codec.dim(), layout.data(base, slot), layout.scales(base, slot));
      codec.decode(layout.data(base, slot), layout.scales(base, slot), decoded.data() + i * codec.dim());
      row_of.push_back(static_cast<int32_t>(page * page_rows + slot));
    }
  }
};

}  // namespace baleen::test
