#include "tokenizer/bpe.h"

#include <algorithm>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/byte_level.h"

namespace baleen::tokenizer {

// Merge table: (left id, right id) -> (rank, merged id), open addressing with linear probing.
struct Bpe::Merges {
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    uint32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<Slot> slots;
  uint64_t mask = 0;

  static uint64_t key_of(uint32_t left, uint32_t right) { return (uint64_t{left} << 32) | right; }
  size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask; }

  explicit Merges(size_t count) {
    size_t size = 16;
    while (size < count * 2) size *= 2;
    slots.resize(size);
    mask = size - 1;
  }
  // Returns false when the pair is already present (the first rank wins, as in HF).
  bool insert(uint32_t left, uint32_t right, uint32_t rank, uint32_t merged) {
    const uint64_t key = key_of(left, right);
    for (size_t i = home(key);; i = (i + 1) & mask) {
      if (slots[i].key == key) return false;
      if (slots[i].key == kEmpty) {
        slots[i] = {key, rank, merged};
        return true;
      }
    }
  }
  const Slot* find(uint32_t left, uint32_t right) const {
    const uint64_t key = key_of(left, right);
    for (size_t i = home(key);; i = (i + 1) & mask) {
      if (slots[i].key == key) return &slots[i];
      if (slots[i].key == kEmpty) return nullptr;
    }
  }
};

// Piece -> ids, for short pieces: open addressing over one arena of keys and one of ids, dropped
// whole when full (std::unordered_map's heterogeneous lookup cost a quarter of encode time).
struct Bpe::Cache {
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0, key_size = 0;  // key_size 0: empty (pieces are never empty)
    uint32_t ids_offset = 0, ids_size = 0;
  };
  static constexpr size_t kMaxPiece = 64;
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kSlots = kMaxEntries * 2;
  std::mutex mutex;
  std::vector<Slot> slots = std::vector<Slot>(kSlots);
  std::string keys;
  std::vector<uint32_t> ids;
  size_t entries = 0;

  static uint64_t hash_of(std::string_view piece) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ piece.size();
    size_t i = 0;
    for (; i + 8 <= piece.size(); i += 8) {
      uint64_t word;
      __builtin_memcpy(&word, piece.data() + i, 8);
      h = (h ^ word) * 0xFF51AFD7ED558CCDull;
      h ^= h >> 32;
    }
    uint64_t tail = 0;
    __builtin_memcpy(&tail, piece.data() + i, piece.size() - i);
    h = (h ^ tail) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
  }
  // The slot holding `piece`, or the empty slot where it would go.
  Slot& probe(std::string_view piece, uint64_t hash) {
    for (size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& slot = slots[i];
      if (slot.key_size == 0) return slot;
      if (slot.hash == hash && slot.key_size == piece.size() &&
          std::string_view(keys).substr(slot.key_offset, slot.key_size) == piece) {
        return slot;
      }
    }
  }
  void clear() {
    std::fill(slots.begin(), slots.end(), Slot{});
    keys.clear();
    ids.clear();
    entries = 0;
  }
};

Bpe::Bpe() : cache_(std::make_unique<Cache>()) {}
Bpe::Bpe(Bpe&&) noexcept = default;
Bpe& Bpe::operator=(Bpe&&) noexcept = default;
Bpe::~Bpe() = default;

namespace {

std::pair<std::string, std::string> merge_parts(const JsonField& entry) {
  if (entry.value.is_string()) {
    // Legacy form "left right": byte-level strings never contain a plain space.
    const std::string text = entry.string();
    const size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      entry.fail_expected("a merge \"left right\" with exactly one space");
    }
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (!entry.value.is_array() || entry.value.size() != 2) entry.fail_expected("a merge [left, right]");
  return {entry.at(0).string(), entry.at(1).string()};
}

}  // namespace

Bpe Bpe::from_json(const JsonField& model) {
  Bpe bpe;
  const std::string type = model.at("type").string();
  if (type != "BPE") fail("tokenizer file {}: not implemented: model type '{}' (only BPE)", model.file, type);
  for (const char* unsupported : {"dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"}) {
    const nlohmann::json* value = model.find(unsupported);
    if (value != nullptr) fail("tokenizer file {}: not implemented: model.{} = {}", model.file, unsupported, value->dump());
  }
  for (const char* unsupported : {"byte_fallback", "ignore_merges"}) {
    const nlohmann::json* value = model.find(unsupported);
    if (value != nullptr && *value != false) fail("tokenizer file {}: not implemented: model.{} = true", model.file, unsupported);
  }

  const JsonField vocab = model.at("vocab");
  std::unordered_map<std::string, uint32_t> id_of;  // byte-level string -> id
  id_of.reserve(vocab.object().size());
  for (const auto& [text, value] : vocab.object().items()) {
    const uint32_t id = JsonField{value, model.file, vocab.path + "." + text}.id();
    if (id >= bpe.id_bytes_.size()) bpe.id_bytes_.resize(id + 1), bpe.id_literal_.resize(id + 1);
    std::optional<std::string> bytes = byte_level_to_bytes(text);
    if (bytes) {
      bpe.id_bytes_[id] = std::move(*bytes);
    } else {
      bpe.id_literal_[id] = text;
    }
    id_of.emplace(text, id);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string text = bytes_to_byte_level(std::string(1, static_cast<char>(b)));
    const auto it = id_of.find(text);
    if (it == id_of.end()) fail("tokenizer file {}: field '{}' lacks the byte-level token for byte {}", model.file, vocab.path, b);
    bpe.byte_id_[b] = it->second;
  }

  const JsonField merges = model.at("merges");
  bpe.merges_ = std::make_unique<Merges>(merges.array().size());
  for (size_t rank = 0; rank < merges.array().size(); ++rank) {
    const JsonField entry = merges.at(rank);
    const auto [left, right] = merge_parts(entry);
    const auto l = id_of.find(left), r = id_of.find(right), m = id_of.find(left + right);
    if (l == id_of.end() || r == id_of.end() || m == id_of.end()) {
      entry.fail_expected("a merge of two vocab tokens whose concatenation is in the vocab");
    }
    bpe.merges_->insert(l->second, r->second, static_cast<uint32_t>(rank), m->second);
  }
  return bpe;
}

// HF's Word::merge_all: a heap of candidate merges ordered by (rank, position); entries whose pair
// changed since they were pushed are skipped when popped.
void Bpe::encode_uncached(std::string_view piece, std::vector<uint32_t>& out) const {
  struct Symbol {
    uint32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    uint32_t merged;
    // std heap functions build a max-heap: "less" means a later merge.
    bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  const int32_t n = static_cast<int32_t>(piece.size());
  symbols.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_id_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  heap.clear();
  const auto push_pair = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    if (const Merges::Slot* slot = merges_->find(symbols[left].id, symbols[right].id)) {
      heap.push_back({slot->rank, left, slot->merged});
      std::push_heap(heap.begin(), heap.end());
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merges::Slot* slot = merges_->find(left.id, right.id);
    if (slot == nullptr || slot->merged != top.merged) continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) out.push_back(symbols[i].id);
}

void Bpe::encode(std::string_view piece, std::vector<uint32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (piece.size() > Cache::kMaxPiece) {
    encode_uncached(piece, out);
    return;
  }
  Cache& cache = *cache_;
  const uint64_t hash = Cache::hash_of(piece);
  {
    std::lock_guard lock(cache.mutex);
    const Cache::Slot& slot = cache.probe(piece, hash);
    if (slot.key_size != 0) {
      const uint32_t* ids = cache.ids.data() + slot.ids_offset;
      out.insert(out.end(), ids, ids + slot.ids_size);
      return;
    }
  }
  const size_t first = out.size();
  encode_uncached(piece, out);
  std::lock_guard lock(cache.mutex);
  if (cache.entries >= Cache::kMaxEntries) cache.clear();
  Cache::Slot& slot = cache.probe(piece, hash);
  if (slot.key_size != 0) return;  // another thread added it meanwhile
  slot = {hash, static_cast<uint32_t>(cache.keys.size()), static_cast<uint32_t>(piece.size()),
          static_cast<uint32_t>(cache.ids.size()), static_cast<uint32_t>(out.size() - first)};
  cache.keys.append(piece);
  cache.ids.insert(cache.ids.end(), out.begin() + static_cast<ptrdiff_t>(first), out.end());
  ++cache.entries;
}

}  // namespace baleen::tokenizer
