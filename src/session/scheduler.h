// Many turns at once over one model (nano-vllm's schedule → run → postprocess): one engine thread owns the
// model, a Generator and the prefix cache; callers on any thread submit turns (prompt tokens + TurnOptions)
// and follow them through a TurnTicket. Turns wait in arrival order (FIFO) and are admitted while fewer than
// max_running run, each from a fork of its longest cached prefix (session/prefix_cache.h). Each step is one
// Generator::step over every running turn — a decode token each, then prefill chunks while step_tokens
// lasts — then per-turn detokenizing and parsing (session/running_turn.h). A turn's tokens are those it
// would get alone (the batched forward is exact). Under a state memory budget the cache is evicted first,
// then the turns admitted last are preempted: parked at the front of the queue and recomputed from the
// cache's deepest prefix when resumed, with the tokens they would have had. A cancelled ticket ends its
// turn before the next step; beyond max_waiting queued turns submit() throws QueueFull. Several choices of
// one prompt (OpenAI's n) prefill it once: the first keeps the state before the prompt's last token, and
// the others wait until it is kept, fork it (its pages shared) and feed only that token. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "core/histogram.h"
#include "engine/generator.h"
#include "session/prefix_cache.h"
#include "session/turn_runner.h"

namespace baleen::session {

struct SchedulerOptions {
  StateStorage storage = StateStorage::kPaper;
  int64_t max_running = 16;   // turns in one batch
  int64_t max_waiting = 64;   // turns queued behind them; more are refused (QueueFull)
  int64_t step_tokens = 512;  // tokens one forward feeds at most (decode tokens always go in)
  CacheLimits cache;          // prefix cache bounds (session/prefix_cache.h)
  std::optional<DiskCacheOptions> disk;  // the prefix cache's disk tier (--state-dir), when set
  // Session state memory (running turns and cache together) beyond which the cache is evicted and then the
  // turns admitted last are preempted (parked, recomputed when resumed); 0: no bound.
  int64_t max_state_bytes = 0;
};

class QueueFull : public Error {
 public:
  explicit QueueFull(int64_t waiting)
      : Error(fmt::format("{} requests are waiting: try again later", waiting)) {}
};

// What a turn reported since the last look.
struct TurnNews {
  bool prompt_known = false;  // set once: the prompt's size and the tokens reused from the cache
  int64_t prompt_tokens = 0, reused_tokens = 0;
  std::vector<TokenLogprob> logprobs;  // answer tokens sampled (TurnOptions::logprobs), before their events
  std::vector<chat::ParseEvent> events;
  std::optional<TurnResult> result;  // the turn's end, or:
  std::exception_ptr error;          // TurnInterrupted when cancelled, else the failure
  bool ended() const { return result.has_value() || error != nullptr; }
};

class TurnTicket {
 public:
  // Waits until there is news or `timeout` passed; returns what came since the last call.
  TurnNews wait(std::chrono::milliseconds timeout);
  // Ends the turn before the next step (its follower then gets TurnInterrupted). Idempotent, any thread.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // Follows the turn to its end on the calling thread: options.on_prompt and options.on_event as news comes;
  // cancels it once *options.stop is set or `gone()` says so. Returns the result or rethrows what ended it.
  TurnResult follow(const TurnOptions& options, const std::function<bool()>& gone = {});

 private:
  friend class Scheduler;
  friend std::vector<TurnResult> follow_all(std::span<const std::shared_ptr<TurnTicket>>,
                                            std::span<const TurnOptions>, const std::function<bool()>&);
  // The lock and wake-up of a ticket, shared by the tickets of one prompt's choices so one follower can
  // wait for news of any.
  struct Signal {
    std::mutex mutex;
    std::condition_variable changed;
  };
  explicit TurnTicket(std::shared_ptr<Signal> signal) : signal_(std::move(signal)) {}
  void post(const std::function<void(TurnNews&)>& add);
  bool has_news() const {
    return news_.prompt_known || !news_.logprobs.empty() || !news_.events.empty() || news_.ended();
  }
  TurnNews take();  // signal_->mutex held

  std::shared_ptr<Signal> signal_;
  TurnNews news_;  // guarded by signal_->mutex
  std::atomic<bool> cancelled_{false};
};

// Follows the tickets of one prompt's choices (Scheduler::submit_choices) to their ends on the calling
// thread, options[i]'s callbacks for ticket i as its news comes, in whatever order the turns make it. Once
// any options[i].stop is set or `gone()` says so, or a turn fails, every turn is cancelled; rethrows the
// first failure.
std::vector<TurnResult> follow_all(std::span<const std::shared_ptr<TurnTicket>> tickets,
                                   std::span<const TurnOptions> options, const std::function<bool()>& gone = {});

struct SchedulerStats {
  int64_t running = 0, waiting = 0;
  int64_t steps = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0, generated_tokens = 0;
  int64_t completed = 0, interrupted = 0, failed = 0, rejected = 0, preemptions = 0;
  int64_t state_bytes = 0;  // the backend's session state memory (pages shared by forks counted once)
  int64_t cache_entries = 0, cache_evictions = 0;
  int64_t disk_entries = 0, disk_bytes = 0, disk_evictions = 0;  // the cache's disk tier
  Histogram batch_size{{1, 2, 4, 8, 16, 32, 64, 128}};  // sequences per forward
  Histogram step_seconds{
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}};  // one forward + sampling
  Histogram ttft_seconds{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram itl_seconds{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
};

class Scheduler {
 public:
  // Borrows both; starts the engine thread. The model must not be used by anyone else meanwhile.
  Scheduler(Model& model, const tokenizer::Tokenizer& tokenizer, SchedulerOptions options);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a turn; `prompt` non-empty, options.max_tokens > 0 (options' callbacks are the follower's).
  // Throws QueueFull when max_waiting turns wait. After stop() the ticket ends at once, interrupted.
  std::shared_ptr<TurnTicket> submit(std::vector<int32_t> prompt, const TurnOptions& options) {
    return submit_choices(std::move(prompt), options, 1).front();
  }
  // `n` >= 1 turns of one prompt (choices), queued together: choice i samples with seed + i and numbers
  // its tool calls apart (id_seed), so choice 0 is what submit() gives. Throws QueueFull as submit().
  std::vector<std::shared_ptr<TurnTicket>> submit_choices(std::vector<int32_t> prompt,
                                                          const TurnOptions& options, int64_t n);
  // As TurnRunner's: rendered and tokenized, spliced onto a cached conversation's tokens.
  std::vector<int32_t> prompt_tokens(const chat::Conversation& conversation,
                                     const TurnOptions& options) const;
  std::vector<int32_t> text_tokens(std::string_view text) const { return cache_.text_tokens(text); }
  // Ends every turn (interrupted) and the engine thread. Idempotent.
  void stop();
  SchedulerStats stats() const;

 private:
  struct Waiting;
  struct Running;
  void loop();
  bool take_waiting(size_t running, std::vector<Waiting>& next);
  void admit_within_budget(std::vector<Waiting> next, std::vector<std::unique_ptr<Running>>& running);
  void admit(Waiting waiting, std::vector<std::unique_ptr<Running>>& running);
  void step(std::vector<std::unique_ptr<Running>>& running);
  bool room_for_one_more();
  void preempt(std::vector<std::unique_ptr<Running>>& running);
  void end(TurnTicket& ticket, std::exception_ptr error);

  Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  const SchedulerOptions options_;
  PrefixCache cache_;
  Generator generator_;       // the engine thread's
  mutable std::mutex mutex_;  // guards waiting_, stopping_, stats_
  std::condition_variable work_;
  std::deque<Waiting> waiting_;
  bool stopping_ = false;
  SchedulerStats stats_;
  std::thread engine_;
};

}  // namespace baleen::session
