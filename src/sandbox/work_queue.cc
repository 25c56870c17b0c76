#include "sandbox/work_queue.h"

#include <thread>

namespace baleen::sandbox {

void WorkQueue::add(std::function<void()> work) {
  std::lock_guard lock(mutex_);
  if (!started_) {
    started_ = true;
    std::thread([this] { run(); }).detach();  // queues are never destroyed
  }
  pending_.push_back(std::move(work));
  wanted_.notify_one();
}

void WorkQueue::run() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      wanted_.wait(lock, [this] { return !pending_.empty(); });
      work = std::move(pending_.front());
      pending_.pop_front();
    }
    work();
  }
}

}  // namespace baleen::sandbox
