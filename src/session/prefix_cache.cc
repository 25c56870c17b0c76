#include "session/prefix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace baleen::session {
namespace {

// The cache keeps a state every this many tokens at least: small enough that a shared prefix is reused
// to within 128 tokens (V4's lcm of its compression ratios), large enough that a prefill chunk, cut at
// each boundary, still reads the weights once for many tokens where the lcm is small (nano's is 16).
constexpr int64_t kMinGranularity = 128;

}  // namespace

int64_t cache_granularity(const Config& config) {
  const int64_t lcm = config.resume_granularity();
  return (kMinGranularity + lcm - 1) / lcm * lcm;
}

struct PrefixCache::Node {
  Node* parent = nullptr;
  std::vector<int32_t> edge;                          // the tokens from the parent to here
  int64_t depth = 0;                                  // tokens from the root
  std::map<int32_t, std::unique_ptr<Node>> children;  // by the first token of their edge
  std::optional<SessionState> state;                  // holds the depth tokens from the root
  std::string text;                                   // of those tokens, for a conversation end
  std::list<Node*>::iterator lru;                     // while it holds a state
};

PrefixCache::PrefixCache(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage,
                         CacheLimits limits, const std::optional<DiskCacheOptions>& disk)
    : model_(model),
      tokenizer_(tokenizer),
      storage_(storage),
      limits_(limits),
      granularity_(cache_granularity(model.config())),
      root_(std::make_unique<Node>()) {
  check(limits_.max_entries >= 1, "prefix cache: max_entries must be >= 1");
  check(limits_.max_bytes >= 0, "prefix cache: max_bytes must be >= 0, got {}", limits_.max_bytes);
  if (disk) disk_ = std::make_unique<DiskCache>(*disk, state_spec(model.config(), storage), storage, tokenizer);
}

PrefixCache::~PrefixCache() = default;

PrefixCache::Start PrefixCache::start(const std::vector<int32_t>& prompt) {
  check(!prompt.empty(), "prefix cache: empty prompt");
  std::lock_guard lock(mutex_);
  Node* n = root_.get();
  Node* best = nullptr;
  for (size_t d = 0;;) {
    if (n->state && d < prompt.size()) best = n;
    if (d == prompt.size()) break;
    const auto it = n->children.find(prompt[d]);
    if (it == n->children.end()) break;
    const Node& c = *it->second;
    if (d + c.edge.size() > prompt.size() || !std::equal(c.edge.begin(), c.edge.end(), prompt.begin() + d))
      break;
    n = it->second.get();
    d += c.edge.size();
  }
  std::optional<CacheRecord> found = disk_ ? disk_->longest(prompt, best ? best->depth : 0) : std::nullopt;
  auto begin = [&]() -> Start {
    if (found) {  // deeper on disk than in memory: imported, and kept in memory for the turns that follow
      SessionState loaded(model_.backend(),
                          model_.backend().import_state(state_spec(model_.config(), storage_), found->image),
                          storage_, found->image.length);
      Start s{loaded.fork(), loaded.length(), {}};
      keep(place(found->tokens), std::move(loaded));
      return s;
    }
    if (best) {
      lru_.splice(lru_.begin(), lru_, best->lru);
      return {best->state->fork(), best->depth, {}};
    }
    return {model_.new_session(storage_), 0, {}};
  };
  Start start = begin();
  const auto last = static_cast<int64_t>(prompt.size()) - 1;
  for (int64_t b = (start.reused / granularity_ + 1) * granularity_; b <= last; b += granularity_)
    start.checkpoints.push_back(b);
  return start;
}

void PrefixCache::add(const std::vector<int32_t>& tokens, SessionState state, Kept kept) {
  if (tokens.empty()) return;
  check(state.length() == static_cast<int64_t>(tokens.size()),
        "prefix cache: a state of {} tokens kept as {}", state.length(), tokens.size());
  const bool conversation_end = kept == Kept::kConversationEnd;
  std::string text;
  if (conversation_end)
    for (const int32_t id : tokens) text += tokenizer_.token_bytes(static_cast<uint32_t>(id));
  // Exported here, on the model's thread; written by the disk tier's own.
  if (disk_ && kept != Kept::kBoundary && !disk_->holds(tokens))
    disk_->put({tokens, conversation_end, state.backend().export_state(state.id())});
  std::lock_guard lock(mutex_);
  Node& n = place(tokens);
  if (conversation_end) n.text = std::move(text);
  keep(n, std::move(state));
}

// The node at exactly `tokens`, splitting the edge it falls inside. Under mutex_.
PrefixCache::Node& PrefixCache::place(const std::vector<int32_t>& tokens) {
  Node* n = root_.get();
  for (size_t d = 0; d < tokens.size();) {
    std::unique_ptr<Node>& slot = n->children[tokens[d]];
    if (!slot) {
      slot = std::make_unique<Node>();
      slot->parent = n;
      slot->edge.assign(tokens.begin() + static_cast<ptrdiff_t>(d), tokens.end());
      slot->depth = static_cast<int64_t>(tokens.size());
      return *slot;
    }
    const std::vector<int32_t>& edge = slot->edge;
    const size_t m = static_cast<size_t>(
        std::mismatch(edge.begin(), edge.end(), tokens.begin() + static_cast<ptrdiff_t>(d), tokens.end())
            .first -
        edge.begin());
    if (m < edge.size()) {
      auto middle = std::make_unique<Node>();
      middle->parent = n;
      middle->edge.assign(edge.begin(), edge.begin() + static_cast<ptrdiff_t>(m));
      middle->depth = n->depth + static_cast<int64_t>(m);
      std::unique_ptr<Node> rest = std::move(slot);
      rest->edge.erase(rest->edge.begin(), rest->edge.begin() + static_cast<ptrdiff_t>(m));
      rest->parent = middle.get();
      middle->children[rest->edge.front()] = std::move(rest);
      slot = std::move(middle);
    }
    n = slot.get();
    d += m;
  }
  return *n;
}

// `node` becomes the most recently used entry, holding `state` unless it holds one already. Under mutex_.
void PrefixCache::keep(Node& node, SessionState state) {
  if (node.state) {
    lru_.splice(lru_.begin(), lru_, node.lru);
    return;
  }
  node.state = std::move(state);
  lru_.push_front(&node);
  node.lru = lru_.begin();
  evict();
}

bool PrefixCache::shrink(int64_t bytes) {
  std::lock_guard lock(mutex_);
  while (!lru_.empty() && model_.backend().state_memory() > bytes) {
    drop_state(*lru_.back());
    ++evictions_;
  }
  return model_.backend().state_memory() <= bytes;
}

void PrefixCache::evict() {
  while (!lru_.empty() && (lru_.size() > limits_.max_entries ||
                           (limits_.max_bytes > 0 && model_.backend().state_memory() > limits_.max_bytes))) {
    drop_state(*lru_.back());
    ++evictions_;
  }
}

// Drops the node's state, then the nodes left holding nothing; a stateless node left with one child is
// merged into it, so every node without a state branches.
void PrefixCache::drop_state(Node& node) {
  lru_.erase(node.lru);
  node.state.reset();
  node.text.clear();
  Node* n = &node;
  while (n != root_.get() && !n->state && n->children.empty()) {
    Node* parent = n->parent;
    const int32_t first = n->edge.front();
    parent->children.erase(first);  // destroys n
    n = parent;
  }
  if (n != root_.get() && !n->state && n->children.size() == 1) {
    std::unique_ptr<Node> child = std::move(n->children.begin()->second);
    child->edge.insert(child->edge.begin(), n->edge.begin(), n->edge.end());
    child->parent = n->parent;
    const int32_t first = n->edge.front();
    n->parent->children[first] = std::move(child);  // destroys n
  }
}

std::vector<int32_t> PrefixCache::text_tokens(std::string_view text) const {
  std::vector<int32_t> prompt;
  std::string_view tail = text;
  {
    std::lock_guard lock(mutex_);
    const Node* best = nullptr;
    std::vector<const Node*> todo = {root_.get()};
    while (!todo.empty()) {
      const Node* n = todo.back();
      todo.pop_back();
      if (!n->text.empty() && text.size() > n->text.size() && text.starts_with(n->text) &&
          (!best || n->text.size() > best->text.size()))
        best = n;
      for (const auto& [first, child] : n->children) todo.push_back(child.get());
    }
    auto [on_disk, disk_text] = disk_ ? disk_->longest_text(text) : std::pair<std::vector<int32_t>, size_t>();
    if (best && best->text.size() >= disk_text) {
      for (const Node* n = best; n != root_.get(); n = n->parent)
        prompt.insert(prompt.begin(), n->edge.begin(), n->edge.end());
      tail.remove_prefix(best->text.size());
    } else if (disk_text > 0) {
      prompt = std::move(on_disk);
      tail.remove_prefix(disk_text);
    }
  }
  const std::vector<uint32_t> ids = tokenizer_.encode(tail);
  prompt.insert(prompt.end(), ids.begin(), ids.end());
  return prompt;
}

void PrefixCache::clear() {
  std::lock_guard lock(mutex_);
  lru_.clear();
  root_ = std::make_unique<Node>();
}

size_t PrefixCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

int64_t PrefixCache::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

}  // namespace baleen::session
