// The CPU backend's session states (DESIGN.md "Session state"): per layer a window ring of stored rows,
// each compressor's fp32 tail (and CSA overlap), and its entries in fixed-size pages from a pool of their
// row format. Pages are reference-counted: a fork shares every full page and copies the rest, so sessions
// with a common prefix hold its entries once. Not thread-safe; ops read states concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "model/kv_codec.h"

namespace baleen::cpu {

inline constexpr int64_t kPageRows = 64;

// Pages of one row format (kPageRows rows each), handed out with a reference count of one.
class PagePool {
 public:
  explicit PagePool(KvCodec codec) : layout_{codec, kPageRows} {}

  const KvPageLayout& layout() const { return layout_; }
  int32_t allocate();
  void retain(int32_t page) { ++refs_[static_cast<size_t>(page)]; }
  void release(int32_t page);
  uint8_t* page(int32_t id) { return pages_[static_cast<size_t>(id)].get(); }
  const uint8_t* page(int32_t id) const { return pages_[static_cast<size_t>(id)].get(); }
  int64_t pages_in_use() const { return static_cast<int64_t>(pages_.size() - free_.size()); }

 private:
  KvPageLayout layout_;
  std::vector<std::unique_ptr<uint8_t[]>> pages_;
  std::vector<int32_t> refs_, free_;
};

// Append-only stored rows in pages of one pool. Move-only; releases its pages when destroyed.
class PagedRows {
 public:
  PagedRows() = default;
  explicit PagedRows(PagePool* pool) : pool_(pool) {}
  PagedRows(PagedRows&& other) noexcept;
  PagedRows& operator=(PagedRows&& other) noexcept;
  ~PagedRows();

  const KvCodec& codec() const { return pool_->layout().codec; }
  int64_t count() const { return count_; }
  void append(const float* row);
  // Appends an already stored row (its data part, then its scale part).
  void append_stored(const uint8_t* row);
  const uint8_t* data(int64_t i) const { return pool_->layout().data(page_of(i), i % kPageRows); }
  const uint8_t* scales(int64_t i) const { return pool_->layout().scales(page_of(i), i % kPageRows); }
  // Shares the full pages, copies a partly filled last one.
  PagedRows fork() const;
  int64_t full_pages() const { return count_ / kPageRows; }
  int64_t partial_pages() const { return count_ % kPageRows ? 1 : 0; }

 private:
  const uint8_t* page_of(int64_t i) const { return pool_->page(pages_[static_cast<size_t>(i / kPageRows)]); }
  uint8_t* writable_slot();
  void release_all();

  PagePool* pool_ = nullptr;
  std::vector<int32_t> pages_;
  int64_t count_ = 0;
};

// The last `capacity` rows of a sequence in one contiguous page; row of logical position p at slot p % capacity.
class RingRows {
 public:
  RingRows() = default;
  RingRows(KvCodec codec, int64_t capacity)
      : layout_{codec, capacity}, bytes_(static_cast<size_t>(layout_.page_bytes())) {}

  const KvCodec& codec() const { return layout_.codec; }
  int64_t count() const { return count_; }  // rows ever appended
  int64_t held() const { return std::min(count_, layout_.rows); }
  void append(const float* row);
  void append_stored(const uint8_t* row);
  const uint8_t* data(int64_t position) const { return layout_.data(bytes_.data(), position % layout_.rows); }
  const uint8_t* scales(int64_t position) const {
    return layout_.scales(bytes_.data(), position % layout_.rows);
  }
  int64_t allocated_bytes() const { return static_cast<int64_t>(bytes_.size()); }
  void set_count(int64_t count) { count_ = count; }

 private:
  KvPageLayout layout_;
  std::vector<uint8_t> bytes_;
  int64_t count_ = 0;
};

// One compressor's state (spec "Compressors"): projected kv/gate of the tokens since the last closed
// window (gates include ape), the CSA overlap (a-halves of the last closed window), the entries.
struct CompressorState {
  CompressorSpec spec;
  int64_t width = 0;  // dim, or 2·dim with the CSA overlap
  std::vector<float> tail_kv, tail_gate;
  int64_t tail_rows = 0;
  std::vector<float> overlap_kv, overlap_gate;  // ratio × dim; empty before the first closed window
  PagedRows entries;

  int64_t tail_bytes() const {
    return 4 * static_cast<int64_t>(tail_rows * width * 2 + overlap_kv.size() + overlap_gate.size());
  }
};

struct LayerState {
  RingRows window;
  std::optional<CompressorState> compressor, indexer;
};

struct SessionRecord {
  StateSpec spec;
  std::vector<LayerState> layers;
};

class StateStore {
 public:
  StateId create(const StateSpec& spec);
  StateId fork(StateId from);
  void free(StateId state);
  SessionRecord& get(StateId state);
  const SessionRecord& get(StateId state) const;
  StateUsage usage(StateId state) const;
  int64_t memory() const;
  StateImage export_state(StateId state) const;
  StateId import_state(const StateSpec& spec, const StateImage& image);

 private:
  PagePool* pool_for(const KvCodec& codec);
  CompressorState make_compressor(const CompressorSpec& spec);

  std::vector<std::unique_ptr<PagePool>> pools_;
  std::unordered_map<StateId, SessionRecord> states_;
  StateId next_ = 0;
};

}  // namespace baleen::cpu
