#include "backend/cuda/device_state.h"

#include <algorithm>
#include <cstring>

#include "backend/state_image_checks.h"
#include "core/error.h"

namespace baleen::cuda {
namespace {

bool same_format(const KvCodec& a, const KvCodec& b) {
  return a.format() == b.format() && a.dim() == b.dim() && a.rope_dim() == b.rope_dim();
}

void copy_async(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (bytes > 0) check_cuda(cudaMemcpyAsync(dst, src, bytes, kind, stream), "cudaMemcpyAsync");
}

void sync(cudaStream_t stream) {
  check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

// A stored row (data part, then scale part) from or into its two places in a host page image.
void get_stored(const KvPageLayout& l, const uint8_t* page, int64_t slot, uint8_t* row) {
  std::memcpy(row, l.data(page, slot), static_cast<size_t>(l.codec.data_bytes()));
  std::memcpy(row + l.codec.data_bytes(), l.scales(page, slot), static_cast<size_t>(l.codec.scale_bytes()));
}
void put_stored(const KvPageLayout& l, const uint8_t* row, uint8_t* page, int64_t slot) {
  std::memcpy(l.data(page, slot), row, static_cast<size_t>(l.codec.data_bytes()));
  std::memcpy(l.scales(page, slot), row + l.codec.data_bytes(), static_cast<size_t>(l.codec.scale_bytes()));
}

}  // namespace

int32_t DevicePagePool::allocate() {
  if (free_.empty()) {
    const auto bytes = static_cast<size_t>(layout_.page_bytes());
    chunks_.emplace_back(bytes * kChunkPages);
    for (int64_t i = kChunkPages - 1; i >= 0; --i) {
      free_.push_back(static_cast<int32_t>(pages_.size() + static_cast<size_t>(i)));
    }
    for (int64_t i = 0; i < kChunkPages; ++i) pages_.push_back(chunks_.back().get<uint8_t>() + i * bytes);
    refs_.resize(pages_.size(), 0);
  }
  const int32_t id = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(id)] = 1;
  return id;
}

void DevicePagePool::release(int32_t page) {
  if (--refs_[static_cast<size_t>(page)] == 0) free_.push_back(page);
}

DeviceRows::~DeviceRows() {
  for (int32_t p : pages_) pool_->release(p);
}

void DeviceRows::add_pages(const std::vector<int32_t>& ids, DeviceQueue& q) {
  if (ids.empty()) return;
  const size_t first = pointers_.size();
  for (int32_t id : ids) {
    pages_.push_back(id);
    pointers_.push_back(pool_->page(id));
  }
  const size_t need = pointers_.size() * sizeof(uint8_t*);
  if (need > table_.bytes()) {  // grow by doubling, rewriting the whole table
    DeviceBuffer bigger(std::max<size_t>(need * 2, 64 * sizeof(uint8_t*)));
    q.upload(bigger.get(), pointers_.data(), need);
    table_ = std::move(bigger);  // cudaFree of the old table waits for the kernels that read it
  } else {
    q.upload(table_.get<const uint8_t*>() + first, pointers_.data() + first, ids.size() * sizeof(uint8_t*));
  }
}

void DeviceRows::grow_to(int64_t rows, DeviceQueue& q) {
  std::vector<int32_t> ids;
  while (static_cast<int64_t>(pages_.size() + ids.size()) * kPageRows < rows) ids.push_back(pool_->allocate());
  add_pages(ids, q);
  count_ = rows;
}

std::unique_ptr<DeviceRows> DeviceRows::fork(DeviceQueue& q) const {
  auto copy = std::make_unique<DeviceRows>(pool_);
  std::vector<int32_t> ids(pages_.begin(), pages_.begin() + full_pages());
  for (int32_t p : ids) pool_->retain(p);
  if (partial_pages()) {  // appends write into the last page, so each state owns its partial page
    const int32_t p = pool_->allocate();
    copy_async(pool_->page(p), pool_->page(pages_[static_cast<size_t>(full_pages())]),
               static_cast<size_t>(pool_->layout().page_bytes()), cudaMemcpyDeviceToDevice, q.stream());
    ids.push_back(p);
  }
  copy->add_pages(ids, q);
  copy->count_ = count_;
  return copy;
}

std::vector<uint8_t> DeviceRows::download(DeviceQueue& q) const {
  const cudaStream_t stream = q.stream();
  const KvPageLayout& l = pool_->layout();
  const int64_t rb = l.codec.row_bytes();
  std::vector<uint8_t> page(static_cast<size_t>(l.page_bytes())), rows(static_cast<size_t>(count_ * rb));
  for (int64_t p = 0; p * kPageRows < count_; ++p) {
    copy_async(page.data(), pool_->page(pages_[static_cast<size_t>(p)]), page.size(), cudaMemcpyDeviceToHost, stream);
    sync(stream);
    for (int64_t s = 0; s < kPageRows && p * kPageRows + s < count_; ++s) {
      get_stored(l, page.data(), s, rows.data() + (p * kPageRows + s) * rb);
    }
  }
  return rows;
}

void DeviceRows::upload(const uint8_t* rows, int64_t count, DeviceQueue& q) {
  const KvPageLayout& l = pool_->layout();
  const int64_t rb = l.codec.row_bytes(), first = count_;
  check(first % kPageRows == 0, "DeviceRows::upload after {} rows", first);
  grow_to(first + count, q);
  std::vector<uint8_t> page(static_cast<size_t>(l.page_bytes()));
  for (int64_t r = 0; r < count; r += kPageRows) {
    std::fill(page.begin(), page.end(), uint8_t{0});
    for (int64_t s = 0; s < kPageRows && r + s < count; ++s) put_stored(l, rows + (r + s) * rb, page.data(), s);
    q.upload(pool_->page(pages_[static_cast<size_t>((first + r) / kPageRows)]), page.data(), page.size());
  }
}

DevicePagePool* DeviceStateStore::pool_for(const KvCodec& codec) {
  for (const auto& p : pools_) {
    if (same_format(p->layout().codec, codec)) return p.get();
  }
  pools_.push_back(std::make_unique<DevicePagePool>(codec));
  return pools_.back().get();
}

DeviceCompressor DeviceStateStore::make_compressor(const CompressorSpec& spec) {
  DeviceCompressor c;
  c.spec = spec;
  c.width = (spec.overlap ? 2 : 1) * spec.dim;
  c.tail_kv = DeviceBuffer(static_cast<size_t>(spec.ratio * c.width) * 4);
  c.tail_gate = DeviceBuffer(static_cast<size_t>(spec.ratio * c.width) * 4);
  if (spec.overlap) {
    c.overlap_kv = DeviceBuffer(static_cast<size_t>(spec.ratio * spec.dim) * 4);
    c.overlap_gate = DeviceBuffer(static_cast<size_t>(spec.ratio * spec.dim) * 4);
  }
  c.entries = std::make_unique<DeviceRows>(pool_for(spec.entries));
  return c;
}

DeviceRing DeviceStateStore::make_ring(const KvCodec& codec, int64_t window) {
  DeviceRing r{KvPageLayout{codec, window}, DeviceBuffer(static_cast<size_t>(window * codec.row_bytes())),
               DeviceBuffer(sizeof(uint8_t*)), 0};
  const uint8_t* p = r.bytes.get<uint8_t>();
  q_.upload(r.table.get(), &p, sizeof p);
  return r;
}

StateId DeviceStateStore::create(const StateSpec& spec) {
  DeviceSession s;
  s.spec = spec;
  for (const LayerStateSpec& l : spec.layers) {
    DeviceLayerState layer;
    layer.window = make_ring(l.window, spec.window);
    if (l.compressor.ratio > 0) layer.compressor = make_compressor(l.compressor);
    if (l.indexer.ratio > 0) layer.indexer = make_compressor(l.indexer);
    s.layers.push_back(std::move(layer));
  }
  const StateId id = next_++;
  states_.emplace(id, std::move(s));
  return id;
}

StateId DeviceStateStore::fork(StateId from) {
  const DeviceSession& src = get(from);
  DeviceSession s;
  s.spec = src.spec;
  for (const DeviceLayerState& l : src.layers) {
    DeviceLayerState layer;
    layer.window = make_ring(l.window.layout.codec, l.window.layout.rows);
    layer.window.count = l.window.count;
    copy_async(layer.window.bytes.get(), l.window.bytes.get(), l.window.bytes.bytes(), cudaMemcpyDeviceToDevice,
               q_.stream());
    for (auto [to, of] : {std::pair{&layer.compressor, &l.compressor}, std::pair{&layer.indexer, &l.indexer}}) {
      if (!*of) continue;
      const DeviceCompressor& c = **of;
      DeviceCompressor copy = make_compressor(c.spec);
      copy.entries = c.entries->fork(q_);
      copy.tail_rows = c.tail_rows;
      copy.has_overlap = c.has_overlap;
      copy_async(copy.tail_kv.get(), c.tail_kv.get(), c.tail_kv.bytes(), cudaMemcpyDeviceToDevice, q_.stream());
      copy_async(copy.tail_gate.get(), c.tail_gate.get(), c.tail_gate.bytes(), cudaMemcpyDeviceToDevice, q_.stream());
      copy_async(copy.overlap_kv.get(), c.overlap_kv.get(), c.overlap_kv.bytes(), cudaMemcpyDeviceToDevice, q_.stream());
      copy_async(copy.overlap_gate.get(), c.overlap_gate.get(), c.overlap_gate.bytes(), cudaMemcpyDeviceToDevice,
                 q_.stream());
      *to = std::move(copy);
    }
    s.layers.push_back(std::move(layer));
  }
  const StateId id = next_++;
  states_.emplace(id, std::move(s));
  return id;
}

void DeviceStateStore::free(StateId state) {
  // Pending kernels may still read the state's memory: let them finish before it is reused or freed.
  sync(q_.stream());
  states_.erase(state);
}

DeviceSession& DeviceStateStore::get(StateId state) {
  auto it = states_.find(state);
  check(it != states_.end(), "no session state {}", state);
  return it->second;
}

const DeviceSession& DeviceStateStore::get(StateId state) const {
  auto it = states_.find(state);
  check(it != states_.end(), "no session state {}", state);
  return it->second;
}

StateUsage DeviceStateStore::usage(StateId state) const {
  const DeviceSession& s = get(state);
  StateUsage u;
  for (const DeviceLayerState& l : s.layers) {
    u.bytes += l.window.held() * l.window.layout.codec.row_bytes();
    u.private_bytes += l.window.layout.page_bytes();
    int64_t entries[2] = {0, 0};
    int i = 0;
    for (const auto* c : {&l.compressor, &l.indexer}) {
      if (*c) {
        const DeviceCompressor& d = **c;
        const int64_t page_bytes = kPageRows * d.entries->codec().row_bytes();
        u.bytes += d.tail_bytes() + d.entries->count() * d.entries->codec().row_bytes();
        u.private_bytes += d.tail_bytes() + d.entries->partial_pages() * page_bytes;
        u.shared_bytes += d.entries->full_pages() * page_bytes;
        entries[i] = d.entries->count();
      }
      ++i;
    }
    u.entries.push_back(entries[0]);
    u.indexer_entries.push_back(entries[1]);
  }
  return u;
}

int64_t DeviceStateStore::memory() const {
  int64_t total = 0;
  for (const auto& p : pools_) total += p->pages_in_use() * p->layout().page_bytes();
  for (const auto& [id, s] : states_) {
    for (const DeviceLayerState& l : s.layers) {
      total += l.window.layout.page_bytes();
      if (l.compressor) total += l.compressor->tail_bytes();
      if (l.indexer) total += l.indexer->tail_bytes();
    }
  }
  return total;
}

namespace {

std::vector<float> download_floats(const DeviceBuffer& b, int64_t n, cudaStream_t stream) {
  std::vector<float> v(static_cast<size_t>(n));
  copy_async(v.data(), b.get(), v.size() * 4, cudaMemcpyDeviceToHost, stream);
  sync(stream);
  return v;
}

void upload_floats(const std::vector<float>& v, DeviceBuffer& b, DeviceQueue& q) {
  q.upload(b.get(), v.data(), v.size() * 4);
}

CompressorImage export_compressor(const DeviceCompressor& c, DeviceQueue& q) {
  const cudaStream_t stream = q.stream();
  CompressorImage img;
  img.tail_rows = c.tail_rows;
  img.tail_kv = download_floats(c.tail_kv, c.tail_rows * c.width, stream);
  img.tail_gate = download_floats(c.tail_gate, c.tail_rows * c.width, stream);
  if (c.has_overlap) {
    img.overlap_kv = download_floats(c.overlap_kv, c.spec.ratio * c.spec.dim, stream);
    img.overlap_gate = download_floats(c.overlap_gate, c.spec.ratio * c.spec.dim, stream);
  }
  img.entries = c.entries->count();
  img.rows = c.entries->download(q);
  return img;
}

void import_compressor(const CompressorImage& img, int64_t length, const std::string& what, DeviceCompressor& c,
                       DeviceQueue& q) {
  check_compressor_image(img, c.spec, length, what);
  upload_floats(img.tail_kv, c.tail_kv, q);
  upload_floats(img.tail_gate, c.tail_gate, q);
  c.tail_rows = img.tail_rows;
  c.has_overlap = !img.overlap_kv.empty();
  if (c.has_overlap) {
    upload_floats(img.overlap_kv, c.overlap_kv, q);
    upload_floats(img.overlap_gate, c.overlap_gate, q);
  }
  c.entries->upload(img.rows.data(), img.entries, q);
}

}  // namespace

StateImage DeviceStateStore::export_state(StateId state) const {
  const DeviceSession& s = get(state);
  StateImage img;
  img.length = s.layers.empty() ? 0 : s.layers.front().window.count;
  for (const DeviceLayerState& l : s.layers) {
    LayerImage li;
    const KvPageLayout& layout = l.window.layout;
    const int64_t rb = layout.codec.row_bytes();
    li.window_rows = l.window.held();
    std::vector<uint8_t> ring(static_cast<size_t>(layout.page_bytes()));
    copy_async(ring.data(), l.window.bytes.get(), ring.size(), cudaMemcpyDeviceToHost, q_.stream());
    sync(q_.stream());
    li.window.resize(static_cast<size_t>(li.window_rows * rb));
    const int64_t first = l.window.count - li.window_rows;
    for (int64_t i = 0; i < li.window_rows; ++i) {
      get_stored(layout, ring.data(), (first + i) % layout.rows, li.window.data() + i * rb);
    }
    if (l.compressor) li.compressor = export_compressor(*l.compressor, q_);
    if (l.indexer) li.indexer = export_compressor(*l.indexer, q_);
    img.layers.push_back(std::move(li));
  }
  return img;
}

StateId DeviceStateStore::import_state(const StateSpec& spec, const StateImage& img) {
  check(img.layers.size() == spec.layers.size(), "state image has {} layers, the model {}", img.layers.size(),
        spec.layers.size());
  check(img.length >= 0, "state image: negative length {}", img.length);
  const StateId id = create(spec);
  try {
    DeviceSession& s = get(id);
    for (size_t i = 0; i < img.layers.size(); ++i) {
      const LayerImage& li = img.layers[i];
      DeviceLayerState& l = s.layers[i];
      const std::string what = fmt::format("state image layer {}", i);
      const KvPageLayout& layout = l.window.layout;
      check_window_image(li, layout.codec, spec.window, img.length, what);
      std::vector<uint8_t> ring(static_cast<size_t>(layout.page_bytes()), 0);
      const int64_t rb = layout.codec.row_bytes(), first = img.length - li.window_rows;
      for (int64_t k = 0; k < li.window_rows; ++k) {
        put_stored(layout, li.window.data() + k * rb, ring.data(), (first + k) % layout.rows);
      }
      q_.upload(l.window.bytes.get(), ring.data(), ring.size());
      l.window.count = img.length;
      if (l.compressor) import_compressor(li.compressor, img.length, what + " compressor", *l.compressor, q_);
      if (l.indexer) import_compressor(li.indexer, img.length, what + " indexer", *l.indexer, q_);
    }
  } catch (...) {
    free(id);
    throw;
  }
  return id;
}

}  // namespace baleen::cuda
