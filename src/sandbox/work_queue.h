// Work taken off a caller's critical path: run on a thread of its own, in the order it was queued.
// What is still queued when the process exits is left undone, so the work must be safe to skip (an
// empty cgroup is: a later sweep finds it; so is a zombie: it goes with the process). The sandboxes
// use two: cgroup.cc removes cgroups once empty, process_sandbox.cc reaps a destroyed sandbox's init.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace baleen::sandbox {

class WorkQueue {
 public:
  WorkQueue() = default;
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(std::function<void()> work);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<std::function<void()>> pending_;
  bool started_ = false;
};

}  // namespace baleen::sandbox
