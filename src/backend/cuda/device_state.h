// The CUDA backend's session states (DESIGN.md "Session state"), as the CPU backend's StateStore keeps
// them but in device memory: per layer a window ring of stored rows, each compressor's fp32 tail (and CSA
// overlap), and its entries in fixed-size pages from a pool of their row format, named to the kernels by
// a device array of page pointers. Pages are reference-counted: a fork shares every full page and copies
// the rest. The bookkeeping (counts, page lists) is host memory, known from the step's inputs, so no op
// waits for the device to learn a size. Not thread-safe; everything runs on the backend's one queue.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/session_kernels.h"
#include "model/kv_codec.h"

namespace baleen::cuda {

inline constexpr int64_t kPageRows = 64;

// Pages of one row format, handed out with a reference count of one; device memory in chunks.
class DevicePagePool {
 public:
  explicit DevicePagePool(KvCodec codec) : layout_{codec, kPageRows} {}

  const KvPageLayout& layout() const { return layout_; }
  int32_t allocate();
  void retain(int32_t page) { ++refs_[static_cast<size_t>(page)]; }
  void release(int32_t page);
  uint8_t* page(int32_t id) const { return pages_[static_cast<size_t>(id)]; }
  int64_t pages_in_use() const { return static_cast<int64_t>(pages_.size() - free_.size()); }

 private:
  static constexpr int64_t kChunkPages = 32;
  KvPageLayout layout_;
  std::vector<DeviceBuffer> chunks_;
  std::vector<uint8_t*> pages_;
  std::vector<int32_t> refs_, free_;
};

// Append-only stored rows in pages of one pool, with the device table of their page pointers.
class DeviceRows {
 public:
  explicit DeviceRows(DevicePagePool* pool) : pool_(pool) {}
  DeviceRows(const DeviceRows&) = delete;
  DeviceRows& operator=(const DeviceRows&) = delete;
  ~DeviceRows();

  const KvCodec& codec() const { return pool_->layout().codec; }
  int64_t count() const { return count_; }
  // Pages for rows [0, rows) exist and the table names them; then count = rows. Rows count … rows − 1
  // are for the caller to write.
  void grow_to(int64_t rows, DeviceQueue& q);
  StoredRowsRef ref() const { return {device_codec(codec()), table_.get<const uint8_t* const>(), kPageRows}; }
  // Shares the full pages, copies a partly filled last one.
  std::unique_ptr<DeviceRows> fork(DeviceQueue& q) const;
  int64_t full_pages() const { return count_ / kPageRows; }
  int64_t partial_pages() const { return count_ % kPageRows ? 1 : 0; }
  // Stored rows (data part, then scale part each) to and from host memory; the stream is synchronized.
  std::vector<uint8_t> download(DeviceQueue& q) const;
  void upload(const uint8_t* rows, int64_t count, DeviceQueue& q);

 private:
  void add_pages(const std::vector<int32_t>& ids, DeviceQueue& q);

  DevicePagePool* pool_;
  std::vector<int32_t> pages_;
  std::vector<const uint8_t*> pointers_;  // host mirror of the table
  DeviceBuffer table_;
  int64_t count_ = 0;
};

struct DeviceCompressor {
  CompressorSpec spec;
  int64_t width = 0;
  DeviceBuffer tail_kv, tail_gate;        // [ratio, width] fp32
  DeviceBuffer overlap_kv, overlap_gate;  // [ratio, dim] fp32
  int64_t tail_rows = 0;
  bool has_overlap = false;
  std::unique_ptr<DeviceRows> entries;

  int64_t tail_bytes() const {
    return 4 * (tail_rows * width * 2 + (has_overlap ? 2 * spec.ratio * spec.dim : 0));
  }
};

struct DeviceRing {
  KvPageLayout layout;  // one page of `window` rows
  DeviceBuffer bytes;
  DeviceBuffer table;   // one pointer: bytes
  int64_t count = 0;    // rows ever appended
  int64_t held() const { return std::min(count, layout.rows); }
  StoredRowsRef ref() const {
    return {device_codec(layout.codec), table.get<const uint8_t* const>(), layout.rows};
  }
};

struct DeviceLayerState {
  DeviceRing window;
  std::optional<DeviceCompressor> compressor, indexer;
};

struct DeviceSession {
  StateSpec spec;
  std::vector<DeviceLayerState> layers;
};

class DeviceStateStore {
 public:
  explicit DeviceStateStore(DeviceQueue& q) : q_(q) {}

  StateId create(const StateSpec& spec);
  StateId fork(StateId from);
  void free(StateId state);
  DeviceSession& get(StateId state);
  const DeviceSession& get(StateId state) const;
  StateUsage usage(StateId state) const;
  int64_t memory() const;
  StateImage export_state(StateId state) const;
  StateId import_state(const StateSpec& spec, const StateImage& image);

 private:
  DevicePagePool* pool_for(const KvCodec& codec);
  DeviceCompressor make_compressor(const CompressorSpec& spec);
  DeviceRing make_ring(const KvCodec& codec, int64_t window);

  DeviceQueue& q_;
  std::vector<std::unique_ptr<DevicePagePool>> pools_;
  std::unordered_map<StateId, DeviceSession> states_;
  StateId next_ = 0;
};

}  // namespace baleen::cuda
