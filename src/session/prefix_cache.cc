#include "session/prefix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace baleen::session {
namespace {

// Earlier prompts a new one is compared with: a request file interleaves a few distinct system prompt +
// tools blocks (the nano eval: 4 with tools, more without).
constexpr size_t kRecentPrompts = 8;

bool extends(const std::vector<int32_t>& prompt, const std::vector<int32_t>& prefix) {
  return !prefix.empty() && prompt.size() > prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), prompt.begin());
}

int64_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  return std::mismatch(a.begin(), a.begin() + static_cast<ptrdiff_t>(n), b.begin()).first - a.begin();
}

}  // namespace

PrefixCache::PrefixCache(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage,
                         size_t max_entries)
    : model_(model), tokenizer_(tokenizer), storage_(storage), max_entries_(max_entries) {
  check(max_entries_ >= 1, "prefix cache: max_entries must be >= 1");
}

PrefixCache::Start PrefixCache::start(const std::vector<int32_t>& prompt) {
  check(!prompt.empty(), "prefix cache: empty prompt");
  std::lock_guard lock(mutex_);
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (extends(prompt, it->tokens) && (best == entries_.end() || it->tokens.size() > best->tokens.size()))
      best = it;
  Start start{best == entries_.end() ? model_.new_session(storage_) : best->state.fork()};
  if (best != entries_.end()) {
    start.reused = static_cast<int64_t>(best->tokens.size());
    entries_.splice(entries_.begin(), entries_, best);
  }
  // The longest prefix this prompt shares with a recent one (a system prompt and tools block) is likely
  // shared by the next prompts too: its last resume boundary is worth saving.
  int64_t shared = 0;
  for (const std::vector<int32_t>& p : recent_) shared = std::max(shared, common_prefix(prompt, p));
  const int64_t step = model_.config().resume_granularity();
  const int64_t boundary = std::min(shared, static_cast<int64_t>(prompt.size()) - 1) / step * step;
  if (boundary > start.reused) start.checkpoint = boundary;
  recent_.push_front(prompt);
  if (recent_.size() > kRecentPrompts) recent_.pop_back();
  return start;
}

void PrefixCache::add(std::vector<int32_t> tokens, SessionState state, bool conversation_end) {
  if (tokens.empty()) return;
  check(state.length() == static_cast<int64_t>(tokens.size()),
        "prefix cache: a state of {} tokens kept as {}", state.length(), tokens.size());
  std::string text;
  if (conversation_end)
    for (const int32_t id : tokens) text += tokenizer_.token_bytes(static_cast<uint32_t>(id));
  std::lock_guard lock(mutex_);
  const auto same =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.tokens == tokens; });
  if (same != entries_.end()) {
    if (conversation_end) same->text = std::move(text);
    entries_.splice(entries_.begin(), entries_, same);
    return;
  }
  entries_.push_front({std::move(tokens), std::move(state), std::move(text)});
  while (entries_.size() > max_entries_) entries_.pop_back();
}

std::vector<int32_t> PrefixCache::text_tokens(std::string_view text) const {
  std::vector<int32_t> prompt;
  std::string_view tail = text;
  {
    std::lock_guard lock(mutex_);
    const Entry* best = nullptr;
    for (const Entry& e : entries_)
      if (!e.text.empty() && text.size() > e.text.size() && text.starts_with(e.text) &&
          (!best || e.text.size() > best->text.size()))
        best = &e;
    if (best) {
      prompt = best->tokens;
      tail.remove_prefix(best->text.size());
    }
  }
  const std::vector<uint32_t> ids = tokenizer_.encode(tail);
  prompt.insert(prompt.end(), ids.begin(), ids.end());
  return prompt;
}

void PrefixCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  recent_.clear();
}

size_t PrefixCache::entries() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

int64_t PrefixCache::cached_tokens() const {
  std::lock_guard lock(mutex_);
  int64_t n = 0;
  for (const Entry& e : entries_) n += static_cast<int64_t>(e.tokens.size());
  return n;
}

}  // namespace baleen::session
