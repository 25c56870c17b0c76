// A few things made ahead of time on a background thread, so a caller takes one ready instead of
// waiting while it is made: the sandbox inits of init_pool.h and the sandboxes of prepared_sandbox.h.
// Items are made for the key of the last take (what the last caller asked for); a take with another
// key discards what was made for the old one. The worker never keeps more ready than there were takes
// so far, so a one-shot process (the CLI) makes at most one it does not use, and while some are ready
// it waits for a pause in the takes before making more. Each item serves one taker. Only the process
// that made the pool uses it: a forked child takes nothing and makes its own.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace baleen::sandbox {

// Runs `stop` when the process exits, before the statics that were made before this call are
// destroyed; the pools' stops run in the reverse order of their registration.
void stop_at_exit(std::function<void()> stop);

// The pause the sandboxes' pools wait for. Measured on a 2-vCPU VM (docs/BENCHMARKS.md, 2026-12-03):
// building at once beside a sandbox just taken slowed its create + exec + destroy by ~15%; waiting
// 2 ms or 5 ms did equally well.
inline constexpr std::chrono::milliseconds kAheadQuiet{2};

template <typename Key, typename Item>
class AheadPool {
 public:
  // make: an item for a key, or nullopt when none can be made (the worker then waits for another
  // key); discard: undoes an item nobody will take. While some are ready, the worker makes more only
  // once no take has come for `quiet`; with none ready, at once.
  AheadPool(size_t capacity, std::chrono::milliseconds quiet, std::function<std::optional<Item>(const Key&)> make,
            std::function<void(Item&)> discard)
      : capacity_(capacity), quiet_(quiet), make_(std::move(make)), discard_(std::move(discard)) {}
  AheadPool(const AheadPool&) = delete;
  AheadPool& operator=(const AheadPool&) = delete;

  // An item made for `key`, or nullopt when none is ready (the caller makes its own); the worker goes
  // on making items for `key`.
  std::optional<Item> take(const Key& key) {
    if (owner_ != ::getpid()) return std::nullopt;
    std::deque<Item> stale;
    std::optional<Item> item;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return std::nullopt;
      if (!started_) start_worker();
      ++takes_;
      last_take_ = std::chrono::steady_clock::now();
      if (!key_ || !(*key_ == key)) {
        stale.swap(ready_);
        key_ = key;
        failed_ = false;
      }
      wanted_.notify_one();
      if (!ready_.empty()) {
        item = std::move(ready_.front());
        ready_.pop_front();
      }
    }
    for (Item& old : stale) discard_(old);
    return item;
  }

 private:
  // Called under mutex_.
  void start_worker() {
    started_ = true;
    busy_ = true;
    stop_at_exit([this] { stop(); });
    std::thread([this] { refill(); }).detach();
  }

  // At exit: the worker makes nothing more, what it is making finishes before the statics it uses are
  // destroyed, and what is ready is discarded.
  void stop() {
    if (owner_ != ::getpid()) return;  // a forked copy inherits the handler, not the worker
    std::deque<Item> left;
    {
      std::unique_lock lock(mutex_);
      stopping_ = true;
      wanted_.notify_all();
      idle_.wait(lock, [this] { return !busy_; });
      left.swap(ready_);
    }
    for (Item& item : left) discard_(item);
  }

  // The items' processes (if any) are this thread's children, and it runs until stop(): a
  // PR_SET_PDEATHSIG they set fires when it returns or the process exits.
  void refill() {
    for (;;) {
      std::optional<Key> key;
      {
        std::unique_lock lock(mutex_);
        busy_ = false;
        idle_.notify_all();
        wanted_.wait(lock, [this] {
          return stopping_ || (!failed_ && ready_.size() < std::min(capacity_, takes_));
        });
        if (stopping_) return;
        // With some ready, build only once takes pause for quiet_: building beside a sandbox just
        // taken slows its first commands (they share the CPUs and the kernel's namespace locks).
        while (!stopping_ && !ready_.empty() && std::chrono::steady_clock::now() < last_take_ + quiet_) {
          wanted_.wait_until(lock, last_take_ + quiet_);
        }
        if (stopping_) return;
        key = key_;
        busy_ = true;
      }
      std::optional<Item> item = make_(*key);
      bool fits = false;
      {
        std::lock_guard lock(mutex_);
        bool current = !stopping_ && *key_ == *key;  // else a take changed the key meanwhile
        if (!item && current) failed_ = true;
        fits = item && current;
        if (fits) ready_.push_back(std::move(*item));
      }
      if (item && !fits) discard_(*item);
    }
  }

  const size_t capacity_;
  const std::chrono::milliseconds quiet_;
  const std::function<std::optional<Item>(const Key&)> make_;
  const std::function<void(Item&)> discard_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  std::condition_variable idle_;
  std::deque<Item> ready_;
  std::optional<Key> key_;  // of the last take: what ready_ was made for
  std::chrono::steady_clock::time_point last_take_;
  size_t takes_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool busy_ = false;    // the worker is making an item
  bool failed_ = false;  // making one for key_ failed: wait for another key
  const pid_t owner_ = ::getpid();
};

}  // namespace baleen::sandbox
