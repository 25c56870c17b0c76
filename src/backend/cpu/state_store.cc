#include "backend/cpu/state_store.h"

#include <algorithm>
#include <cstring>

#include "backend/state_image_checks.h"
#include "core/error.h"

namespace baleen::cpu {
namespace {

// Copies a stored row (data part, then scale part) into its two places.
void put_stored(const KvCodec& codec, const uint8_t* row, uint8_t* data, uint8_t* scales) {
  std::memcpy(data, row, static_cast<size_t>(codec.data_bytes()));
  std::memcpy(scales, row + codec.data_bytes(), static_cast<size_t>(codec.scale_bytes()));
}

void get_stored(const KvCodec& codec, const uint8_t* data, const uint8_t* scales, uint8_t* row) {
  std::memcpy(row, data, static_cast<size_t>(codec.data_bytes()));
  std::memcpy(row + codec.data_bytes(), scales, static_cast<size_t>(codec.scale_bytes()));
}

bool same_format(const KvCodec& a, const KvCodec& b) {
  return a.format() == b.format() && a.dim() == b.dim() && a.rope_dim() == b.rope_dim();
}

}  // namespace

int32_t PagePool::allocate() {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<int32_t>(pages_.size());
    pages_.push_back(std::make_unique<uint8_t[]>(static_cast<size_t>(layout_.page_bytes())));
    refs_.push_back(0);
  }
  refs_[static_cast<size_t>(id)] = 1;
  return id;
}

void PagePool::release(int32_t page) {
  if (--refs_[static_cast<size_t>(page)] == 0) free_.push_back(page);
}

PagedRows::PagedRows(PagedRows&& other) noexcept
    : pool_(other.pool_), pages_(std::move(other.pages_)), count_(other.count_) {
  other.pages_.clear();
  other.count_ = 0;
}

PagedRows& PagedRows::operator=(PagedRows&& other) noexcept {
  if (this != &other) {
    release_all();
    pool_ = other.pool_;
    pages_ = std::move(other.pages_);
    count_ = other.count_;
    other.pages_.clear();
    other.count_ = 0;
  }
  return *this;
}

PagedRows::~PagedRows() {
  release_all();
}

void PagedRows::release_all() {
  for (int32_t p : pages_) pool_->release(p);
  pages_.clear();
}

uint8_t* PagedRows::writable_slot() {
  if (count_ % kPageRows == 0) pages_.push_back(pool_->allocate());
  return pool_->page(pages_.back());
}

void PagedRows::append(const float* row) {
  uint8_t* page = writable_slot();
  const int64_t slot = count_ % kPageRows;
  const KvPageLayout& l = pool_->layout();
  l.codec.encode(row, l.data(page, slot), l.scales(page, slot));
  ++count_;
}

void PagedRows::append_stored(const uint8_t* row) {
  uint8_t* page = writable_slot();
  const int64_t slot = count_ % kPageRows;
  const KvPageLayout& l = pool_->layout();
  put_stored(l.codec, row, l.data(page, slot), l.scales(page, slot));
  ++count_;
}

PagedRows PagedRows::fork() const {
  PagedRows copy(pool_);
  copy.count_ = count_;
  const int64_t full = full_pages();
  for (int64_t i = 0; i < full; ++i) {
    const int32_t p = pages_[static_cast<size_t>(i)];
    pool_->retain(p);
    copy.pages_.push_back(p);
  }
  if (partial_pages()) {  // appends write into the last page, so each state owns its partial page
    const int32_t p = pool_->allocate();
    std::memcpy(pool_->page(p), pool_->page(pages_.back()), static_cast<size_t>(pool_->layout().page_bytes()));
    copy.pages_.push_back(p);
  }
  return copy;
}

void RingRows::append(const float* row) {
  const int64_t slot = count_ % layout_.rows;
  layout_.codec.encode(row, layout_.data(bytes_.data(), slot), layout_.scales(bytes_.data(), slot));
  ++count_;
}

void RingRows::append_stored(const uint8_t* row) {
  const int64_t slot = count_ % layout_.rows;
  put_stored(layout_.codec, row, layout_.data(bytes_.data(), slot), layout_.scales(bytes_.data(), slot));
  ++count_;
}

PagePool* StateStore::pool_for(const KvCodec& codec) {
  for (const auto& p : pools_) {
    if (same_format(p->layout().codec, codec)) return p.get();
  }
  pools_.push_back(std::make_unique<PagePool>(codec));
  return pools_.back().get();
}

CompressorState StateStore::make_compressor(const CompressorSpec& spec) {
  CompressorState c;
  c.spec = spec;
  c.width = (spec.overlap ? 2 : 1) * spec.dim;
  c.tail_kv.resize(static_cast<size_t>(spec.ratio * c.width));
  c.tail_gate.resize(static_cast<size_t>(spec.ratio * c.width));
  c.entries = PagedRows(pool_for(spec.entries));
  return c;
}

StateId StateStore::create(const StateSpec& spec) {
  SessionRecord r;
  r.spec = spec;
  for (const LayerStateSpec& l : spec.layers) {
    LayerState s;
    s.window = RingRows(l.window, spec.window);
    if (l.compressor.ratio > 0) s.compressor = make_compressor(l.compressor);
    if (l.indexer.ratio > 0) s.indexer = make_compressor(l.indexer);
    r.layers.push_back(std::move(s));
  }
  const StateId id = next_++;
  states_.emplace(id, std::move(r));
  return id;
}

StateId StateStore::fork(StateId from) {
  const SessionRecord& src = get(from);
  SessionRecord r;
  r.spec = src.spec;
  for (const LayerState& l : src.layers) {
    LayerState s;
    s.window = l.window;
    for (auto [to, of] : {std::pair{&s.compressor, &l.compressor}, std::pair{&s.indexer, &l.indexer}}) {
      if (!*of) continue;
      const CompressorState& c = **of;
      CompressorState copy;
      copy.spec = c.spec;
      copy.width = c.width;
      copy.tail_kv = c.tail_kv;
      copy.tail_gate = c.tail_gate;
      copy.tail_rows = c.tail_rows;
      copy.overlap_kv = c.overlap_kv;
      copy.overlap_gate = c.overlap_gate;
      copy.entries = c.entries.fork();
      *to = std::move(copy);
    }
    r.layers.push_back(std::move(s));
  }
  const StateId id = next_++;
  states_.emplace(id, std::move(r));
  return id;
}

void StateStore::free(StateId state) {
  states_.erase(state);
}

SessionRecord& StateStore::get(StateId state) {
  auto it = states_.find(state);
  check(it != states_.end(), "no session state {}", state);
  return it->second;
}

const SessionRecord& StateStore::get(StateId state) const {
  auto it = states_.find(state);
  check(it != states_.end(), "no session state {}", state);
  return it->second;
}

StateUsage StateStore::usage(StateId state) const {
  const SessionRecord& r = get(state);
  StateUsage u;
  for (const LayerState& l : r.layers) {
    u.bytes += l.window.held() * l.window.codec().row_bytes();
    u.private_bytes += l.window.allocated_bytes();
    int64_t entries[2] = {0, 0};
    int i = 0;
    for (const auto* c : {&l.compressor, &l.indexer}) {
      if (*c) {
        const CompressorState& s = **c;
        const int64_t page_bytes = kPageRows * s.entries.codec().row_bytes();
        u.bytes += s.tail_bytes() + s.entries.count() * s.entries.codec().row_bytes();
        u.private_bytes += s.tail_bytes() + s.entries.partial_pages() * page_bytes;
        u.shared_bytes += s.entries.full_pages() * page_bytes;
        entries[i] = s.entries.count();
      }
      ++i;
    }
    u.entries.push_back(entries[0]);
    u.indexer_entries.push_back(entries[1]);
  }
  return u;
}

int64_t StateStore::memory() const {
  int64_t total = 0;
  for (const auto& p : pools_) total += p->pages_in_use() * p->layout().page_bytes();
  for (const auto& [id, r] : states_) {
    for (const LayerState& l : r.layers) {
      total += l.window.allocated_bytes();
      if (l.compressor) total += l.compressor->tail_bytes();
      if (l.indexer) total += l.indexer->tail_bytes();
    }
  }
  return total;
}

namespace {

CompressorImage export_compressor(const CompressorState& c) {
  CompressorImage img;
  img.tail_rows = c.tail_rows;
  const auto n = static_cast<size_t>(c.tail_rows * c.width);
  img.tail_kv.assign(c.tail_kv.begin(), c.tail_kv.begin() + static_cast<ptrdiff_t>(n));
  img.tail_gate.assign(c.tail_gate.begin(), c.tail_gate.begin() + static_cast<ptrdiff_t>(n));
  img.overlap_kv = c.overlap_kv;
  img.overlap_gate = c.overlap_gate;
  img.entries = c.entries.count();
  const KvCodec& codec = c.entries.codec();
  img.rows.resize(static_cast<size_t>(img.entries * codec.row_bytes()));
  for (int64_t i = 0; i < img.entries; ++i)
    get_stored(codec, c.entries.data(i), c.entries.scales(i), img.rows.data() + i * codec.row_bytes());
  return img;
}

// Fills a fresh compressor from an image after checking every size against its spec.
void import_compressor(const CompressorImage& img, int64_t length, const std::string& what, CompressorState& c) {
  check_compressor_image(img, c.spec, length, what);
  const int64_t rb = c.entries.codec().row_bytes();
  std::copy(img.tail_kv.begin(), img.tail_kv.end(), c.tail_kv.begin());
  std::copy(img.tail_gate.begin(), img.tail_gate.end(), c.tail_gate.begin());
  c.tail_rows = img.tail_rows;
  c.overlap_kv = img.overlap_kv;
  c.overlap_gate = img.overlap_gate;
  for (int64_t i = 0; i < img.entries; ++i) c.entries.append_stored(img.rows.data() + i * rb);
}

}  // namespace

StateImage StateStore::export_state(StateId state) const {
  const SessionRecord& r = get(state);
  StateImage img;
  img.length = r.layers.empty() ? 0 : r.layers.front().window.count();
  for (const LayerState& l : r.layers) {
    LayerImage li;
    li.window_rows = l.window.held();
    const KvCodec& codec = l.window.codec();
    li.window.resize(static_cast<size_t>(li.window_rows * codec.row_bytes()));
    const int64_t first = l.window.count() - li.window_rows;
    for (int64_t i = 0; i < li.window_rows; ++i) {
      get_stored(codec, l.window.data(first + i), l.window.scales(first + i),
                 li.window.data() + i * codec.row_bytes());
    }
    if (l.compressor) li.compressor = export_compressor(*l.compressor);
    if (l.indexer) li.indexer = export_compressor(*l.indexer);
    img.layers.push_back(std::move(li));
  }
  return img;
}

StateId StateStore::import_state(const StateSpec& spec, const StateImage& img) {
  check(img.layers.size() == spec.layers.size(), "state image has {} layers, the model {}", img.layers.size(),
        spec.layers.size());
  check(img.length >= 0, "state image: negative length {}", img.length);
  const StateId id = create(spec);
  try {
    SessionRecord& r = get(id);
    for (size_t i = 0; i < img.layers.size(); ++i) {
      const LayerImage& li = img.layers[i];
      LayerState& l = r.layers[i];
      const std::string what = fmt::format("state image layer {}", i);
      check_window_image(li, l.window.codec(), spec.window, img.length, what);
      const int64_t held = li.window_rows, rb = l.window.codec().row_bytes();
      l.window.set_count(img.length - held);
      for (int64_t k = 0; k < held; ++k) l.window.append_stored(li.window.data() + k * rb);
      if (l.compressor) import_compressor(li.compressor, img.length, what + " compressor", *l.compressor);
      if (l.indexer) import_compressor(li.indexer, img.length, what + " indexer", *l.indexer);
    }
  } catch (...) {
    free(id);
    throw;
  }
  return id;
}

}  // namespace baleen::cpu
