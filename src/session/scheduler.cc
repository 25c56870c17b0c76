#include "session/scheduler.h"

#include <algorithm>

#include "core/log.h"
#include "session/running_turn.h"

namespace baleen::session {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A follower's callbacks for what a turn reported; rethrows what ended it.
void deliver(const TurnNews& news, const TurnOptions& options) {
  if (news.prompt_known && options.on_prompt) options.on_prompt(news.prompt_tokens, news.reused_tokens);
  if (options.on_logprob)
    for (const TokenLogprob& logprob : news.logprobs) options.on_logprob(logprob);
  if (options.on_event)
    for (const chat::ParseEvent& event : news.events) options.on_event(event);
  if (news.error) std::rethrow_exception(news.error);
}

constexpr std::chrono::milliseconds kFollowPoll{50};  // how often a follower looks at its stop conditions

}  // namespace

TurnNews TurnTicket::take() {
  TurnNews out = std::move(news_);
  news_ = {};
  return out;
}

TurnNews TurnTicket::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(signal_->mutex);
  signal_->changed.wait_for(lock, timeout, [&] { return has_news(); });
  return take();
}

void TurnTicket::post(const std::function<void(TurnNews&)>& add) {
  {
    std::lock_guard lock(signal_->mutex);
    add(news_);
  }
  signal_->changed.notify_all();
}

TurnResult TurnTicket::follow(const TurnOptions& options, const std::function<bool()>& gone) {
  while (true) {
    TurnNews news = wait(kFollowPoll);
    deliver(news, options);
    if (news.result) return std::move(*news.result);
    if ((options.stop && options.stop->load()) || (gone && gone())) cancel();
  }
}

std::vector<TurnResult> follow_all(std::span<const std::shared_ptr<TurnTicket>> tickets,
                                   std::span<const TurnOptions> options, const std::function<bool()>& gone) {
  check(!tickets.empty() && tickets.size() == options.size(), "follow_all: {} tickets, {} options",
        tickets.size(), options.size());
  TurnTicket::Signal& signal = *tickets.front()->signal_;
  for (const std::shared_ptr<TurnTicket>& t : tickets)
    check(t->signal_.get() == &signal, "follow_all: the tickets are not choices of one prompt");
  std::vector<std::optional<TurnResult>> results(tickets.size());
  std::exception_ptr failure;
  for (size_t open = tickets.size(); open > 0;) {
    std::vector<TurnNews> news(tickets.size());
    {
      std::unique_lock lock(signal.mutex);
      signal.changed.wait_for(lock, kFollowPoll, [&] {
        return std::any_of(tickets.begin(), tickets.end(), [](const auto& t) { return t->has_news(); });
      });
      for (size_t i = 0; i < tickets.size(); ++i) news[i] = tickets[i]->take();
    }
    bool stop = gone && gone();
    for (size_t i = 0; i < tickets.size(); ++i) {
      try {
        deliver(news[i], options[i]);
      } catch (...) {
        if (!failure) failure = std::current_exception();
        --open;
      }
      if (news[i].result) {
        results[i] = std::move(*news[i].result);
        --open;
      }
      stop = stop || (options[i].stop && options[i].stop->load());
    }
    if (stop || failure)
      for (const std::shared_ptr<TurnTicket>& t : tickets) t->cancel();
  }
  if (failure) std::rethrow_exception(failure);
  std::vector<TurnResult> out;
  for (std::optional<TurnResult>& r : results) out.push_back(std::move(*r));
  return out;
}

// Set once the first choice of a prompt has kept the state the others start from, or went without.
using Gate = std::shared_ptr<std::atomic<bool>>;

struct Scheduler::Running {
  std::shared_ptr<TurnTicket> ticket;
  std::unique_ptr<RunningTurn> turn;
  Clock::time_point submitted, last_token;
  Gate followers;  // the other choices', opened by this one (null: none)
  void open_gate() {
    if (followers) *followers = true;
  }
  ~Running() { open_gate(); }
};

struct Scheduler::Waiting {
  std::shared_ptr<TurnTicket> ticket;
  std::vector<int32_t> prompt;
  TurnOptions options;
  Clock::time_point submitted;
  std::unique_ptr<Running> parked;  // a preempted turn, resumed when admitted again
  Gate leader;     // a later choice: admitted once it is open (null: at once)
  Gate followers;  // the first choice of several: the others' gate
  bool admissible() const { return !leader || *leader; }
};

Scheduler::Scheduler(Model& model, const tokenizer::Tokenizer& tokenizer, SchedulerOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      cache_(model, tokenizer, options.storage, options.cache, options.disk),
      generator_(model) {
  check(options_.max_running >= 1, "max_running must be >= 1, got {}", options_.max_running);
  check(options_.max_waiting >= 0, "max_waiting must be >= 0, got {}", options_.max_waiting);
  // Beyond a decode token for each running turn, a step has room for prefill: a prompt never waits for
  // every other turn to end.
  check(options_.step_tokens > options_.max_running, "step_tokens ({}) must be more than max_running ({})",
        options_.step_tokens, options_.max_running);
  engine_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  if (engine_.joinable()) engine_.join();
}

std::vector<std::shared_ptr<TurnTicket>> Scheduler::submit_choices(std::vector<int32_t> prompt,
                                                                   const TurnOptions& options, int64_t n) {
  check(!prompt.empty(), "scheduler: empty prompt");
  check(options.max_tokens > 0, "max_tokens must be > 0, got {}", options.max_tokens);
  check(n >= 1, "choices must be >= 1, got {}", n);
  auto signal = std::make_shared<TurnTicket::Signal>();
  std::vector<std::shared_ptr<TurnTicket>> tickets;
  for (int64_t i = 0; i < n; ++i) tickets.push_back(std::shared_ptr<TurnTicket>(new TurnTicket(signal)));
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      if (static_cast<int64_t>(waiting_.size()) >= options_.max_waiting) {
        ++stats_.rejected;
        throw QueueFull(static_cast<int64_t>(waiting_.size()));
      }
      TurnOptions queued = options;
      queued.on_event = nullptr;  // the follower's, called on its own thread
      queued.on_prompt = nullptr;
      queued.on_logprob = nullptr;
      queued.stop = nullptr;
      const Gate gate = n > 1 ? std::make_shared<std::atomic<bool>>(false) : nullptr;
      for (int64_t i = 0; i < n; ++i) {
        TurnOptions choice = queued;
        choice.sampling.seed += static_cast<uint64_t>(i);
        choice.id_seed ^= static_cast<uint64_t>(i) << 52;  // above what the server's request ids use
        waiting_.push_back({tickets[static_cast<size_t>(i)], i + 1 < n ? prompt : std::move(prompt),
                            std::move(choice), Clock::now(), nullptr, i > 0 ? gate : nullptr,
                            i == 0 ? gate : nullptr});
      }
      stats_.waiting = static_cast<int64_t>(waiting_.size());
      work_.notify_one();
      return tickets;
    }
    stats_.interrupted += n;
  }
  for (const std::shared_ptr<TurnTicket>& t : tickets) end(*t, std::make_exception_ptr(TurnInterrupted()));
  return tickets;
}

std::vector<int32_t> Scheduler::prompt_tokens(const chat::Conversation& conversation,
                                              const TurnOptions& options) const {
  return cache_.text_tokens(render_turn_prompt(conversation, options));
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  SchedulerStats s = stats_;
  s.cache_entries = static_cast<int64_t>(cache_.entries());
  s.cache_evictions = cache_.evictions();
  if (const DiskCache* disk = cache_.disk()) {
    s.disk_entries = static_cast<int64_t>(disk->entries());
    s.disk_bytes = disk->bytes();
    s.disk_evictions = disk->evictions();
  }
  return s;
}

void Scheduler::end(TurnTicket& ticket, std::exception_ptr error) {
  ticket.post([&](TurnNews& news) { news.error = std::move(error); });
}

void Scheduler::loop() {
  std::vector<std::unique_ptr<Running>> running;
  for (std::vector<Waiting> next; take_waiting(running.size(), next);) {
    admit_within_budget(std::move(next), running);
    // A client that left ends its turn before the step; the state it reached stays in the cache.
    std::erase_if(running, [&](const std::unique_ptr<Running>& r) {
      if (!r->ticket->cancelled()) return false;
      r->turn->abandon();
      end(*r->ticket, std::make_exception_ptr(TurnInterrupted()));
      std::lock_guard lock(mutex_);
      ++stats_.interrupted;
      return true;
    });
    if (!running.empty()) step(running);
    preempt(running);
    std::lock_guard lock(mutex_);
    stats_.running = static_cast<int64_t>(running.size());
    stats_.state_bytes = model_.backend().state_memory();
  }
  for (const std::unique_ptr<Running>& r : running)
    end(*r->ticket, std::make_exception_ptr(TurnInterrupted()));
  std::lock_guard lock(mutex_);
  for (Waiting& w : waiting_) end(*w.ticket, std::make_exception_ptr(TurnInterrupted()));
  stats_.interrupted += static_cast<int64_t>(running.size() + waiting_.size());
  waiting_.clear();
  stats_.running = stats_.waiting = 0;
}

// Waits for work; takes the turns at the front of the queue that fit beside `running` ones (FIFO) and ends
// the ones whose client left while they waited. False once stopping.
bool Scheduler::take_waiting(size_t running, std::vector<Waiting>& next) {
  next.clear();
  std::vector<Waiting> dropped;
  {
    std::unique_lock lock(mutex_);
    work_.wait(lock, [&] { return stopping_ || !waiting_.empty() || running > 0; });
    if (stopping_) return false;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->ticket->cancelled()) {
        if (it->followers) *it->followers = true;  // the other choices start without it
        dropped.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    // In order, past the later choices whose first has not kept their start yet.
    for (auto it = waiting_.begin();
         static_cast<int64_t>(running + next.size()) < options_.max_running && it != waiting_.end();) {
      if (!it->admissible()) {
        ++it;
        continue;
      }
      next.push_back(std::move(*it));
      it = waiting_.erase(it);
    }
    stats_.waiting = static_cast<int64_t>(waiting_.size());
    stats_.interrupted += static_cast<int64_t>(dropped.size());
  }
  for (Waiting& w : dropped) end(*w.ticket, std::make_exception_ptr(TurnInterrupted()));
  return true;
}

// Under a state budget a turn is admitted only while there is room beside the running ones (the cache
// yields first); the others go back to the front of the queue, in order.
void Scheduler::admit_within_budget(std::vector<Waiting> next,
                                    std::vector<std::unique_ptr<Running>>& running) {
  size_t admitted = 0;
  for (; admitted < next.size(); ++admitted) {
    if (!running.empty() && !room_for_one_more()) break;
    admit(std::move(next[admitted]), running);
  }
  if (admitted == next.size()) return;
  std::lock_guard lock(mutex_);
  for (size_t i = next.size(); i-- > admitted;) waiting_.push_front(std::move(next[i]));
  stats_.waiting = static_cast<int64_t>(waiting_.size());
}

void Scheduler::admit(Waiting w, std::vector<std::unique_ptr<Running>>& running) {
  if (w.parked) {
    w.parked->turn->resume();
    running.push_back(std::move(w.parked));
    return;
  }
  auto r = std::make_unique<Running>();
  r->ticket = w.ticket;
  r->submitted = w.submitted;
  r->followers = std::move(w.followers);
  try {
    TurnTicket* ticket = w.ticket.get();
    if (w.options.logprobs >= 0)
      w.options.on_logprob = [ticket](const TokenLogprob& logprob) {
        ticket->post([&](TurnNews& news) { news.logprobs.push_back(logprob); });
      };
    r->turn = std::make_unique<RunningTurn>(
        cache_, tokenizer_, std::move(w.prompt), w.options, [ticket](const chat::ParseEvent& event) {
          ticket->post([&](TurnNews& news) { news.events.push_back(event); });
        });
  } catch (const std::exception&) {
    end(*w.ticket, std::current_exception());
    std::lock_guard lock(mutex_);
    ++stats_.failed;
    return;
  }
  if (r->followers && !r->turn->keep_before_last()) r->open_gate();
  const int64_t prompt = r->turn->prompt_tokens(), reused = r->turn->reused_tokens();
  w.ticket->post([&](TurnNews& news) {
    news.prompt_known = true;
    news.prompt_tokens = prompt;
    news.reused_tokens = reused;
  });
  {
    std::lock_guard lock(mutex_);
    stats_.prompt_tokens += prompt;
    stats_.cached_tokens += reused;
  }
  running.push_back(std::move(r));
}

bool Scheduler::room_for_one_more() {
  if (options_.max_state_bytes == 0) return true;
  const int64_t room = options_.max_state_bytes / 10 * 9;  // hysteresis: preempted above the whole budget
  return cache_.shrink(room);
}

// Over the state budget once the cache has given up what it can, the turns admitted last are parked at the
// front of the queue (their states given to the cache, which drops them as it must), until the rest fit or
// one turn is left.
void Scheduler::preempt(std::vector<std::unique_ptr<Running>>& running) {
  if (options_.max_state_bytes == 0) return;
  while (running.size() > 1 && !cache_.shrink(options_.max_state_bytes)) {
    std::unique_ptr<Running> r = std::move(running.back());
    running.pop_back();
    r->turn->park();
    r->open_gate();
    std::lock_guard lock(mutex_);
    ++stats_.preemptions;
    waiting_.push_front({r->ticket, {}, {}, r->submitted, std::move(r), nullptr, nullptr});
    stats_.waiting = static_cast<int64_t>(waiting_.size());
  }
}

// One forward over every running turn, then each turn's sampled token; the turns that are done leave.
void Scheduler::step(std::vector<std::unique_ptr<Running>>& running) {
  std::vector<Sequence*> sequences;
  std::vector<int64_t> lengths;
  for (const std::unique_ptr<Running>& r : running) {
    sequences.push_back(&r->turn->sequence());
    lengths.push_back(r->turn->sequence().state().length());
  }
  const Clock::time_point start = Clock::now();
  try {
    generator_.step(sequences, options_.step_tokens);
  } catch (const std::exception& e) {
    log::error("batched step of {} turns failed: {}", running.size(), e.what());
    for (const std::unique_ptr<Running>& r : running) end(*r->ticket, std::current_exception());
    std::lock_guard lock(mutex_);
    stats_.failed += static_cast<int64_t>(running.size());
    running.clear();
    return;
  }
  const double step_seconds = seconds_since(start);
  int64_t batch = 0, generated = 0, completed = 0;
  std::vector<double> ttft, itl;
  for (size_t i = 0; i < running.size(); ++i) batch += sequences[i]->state().length() > lengths[i];
  int64_t failed = 0;
  // A turn whose output cannot be decoded (a sampled id the tokenizer lacks) fails alone.
  std::erase_if(running, [&](const std::unique_ptr<Running>& r) {
    try {
      const bool sampled = r->turn->after_step();
      if (r->followers && !r->turn->keeping_before_last()) r->open_gate();
      if (sampled) {
        ++generated;
        const bool first = r->turn->sequence().sampled().size() == 1;
        (first ? ttft : itl).push_back(seconds_since(first ? r->submitted : r->last_token));
        r->last_token = Clock::now();
      }
      if (!r->turn->done()) return false;
      TurnResult result = r->turn->finish();
      r->ticket->post([&](TurnNews& news) { news.result = std::move(result); });
      ++completed;
    } catch (const std::exception&) {
      end(*r->ticket, std::current_exception());
      ++failed;
    }
    return true;
  });
  std::lock_guard lock(mutex_);
  ++stats_.steps;
  stats_.batch_size.observe(static_cast<double>(batch));
  stats_.step_seconds.observe(step_seconds);
  stats_.generated_tokens += generated;
  stats_.completed += completed;
  stats_.failed += failed;
  for (const double t : ttft) stats_.ttft_seconds.observe(t);
  for (const double t : itl) stats_.itl_seconds.observe(t);
}

}  // namespace baleen::session
