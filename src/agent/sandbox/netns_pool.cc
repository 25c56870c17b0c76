#include "agent/sandbox/netns_pool.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace baleen::agent {

namespace {

// Enough for a burst of creations; each waiting namespace holds ~100 KiB of kernel memory.
constexpr size_t kPoolSize = 4;

bool loopback_up() {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) return false;
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ::ioctl(fd.get(), SIOCSIFFLAGS, &request) == 0;
}

class NetnsPool {
 public:
  Fd take() {
    std::unique_lock lock(mutex_);
    if (!started_) {
      started_ = true;
      // Detached, and the pool is never destroyed: the thread may outlive main() harmlessly.
      std::thread([this] { refill(); }).detach();
    }
    ++takes_;
    wanted_.notify_one();
    if (ready_.empty()) return Fd();
    Fd fd = std::move(ready_.front());
    ready_.pop_front();
    return fd;
  }

 private:
  // Runs on its own thread: unshare moves only the calling thread into the new namespace, and the
  // thread returns to the original one after each, so it pins none that a sandbox has used.
  void refill() {
    Fd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original) return;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        // Never more ready than were asked for so far: a one-shot process (the CLI) makes at most one.
        wanted_.wait(lock, [this] { return ready_.size() < std::min(kPoolSize, takes_); });
      }
      if (::unshare(CLONE_NEWNET) != 0 || !loopback_up()) {
        log::debug("network namespace pool: cannot prepare one ({}); sandboxes clone their own",
                   std::strerror(errno));
        return;
      }
      Fd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!fd || ::setns(original.get(), CLONE_NEWNET) != 0) return;
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(fd));
    }
  }

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<Fd> ready_;
  size_t takes_ = 0;
  bool started_ = false;
};

}  // namespace

Fd take_fresh_netns() {
  static auto* pool = new NetnsPool();  // never destroyed: its thread runs until the process exits
  return pool->take();
}

}  // namespace baleen::agent
