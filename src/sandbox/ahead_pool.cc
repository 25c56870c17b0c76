#include "sandbox/ahead_pool.h"

#include <cstdlib>
#include <mutex>
#include <vector>

namespace baleen::sandbox {

namespace {

std::mutex stops_mutex;
bool registered = false;
// Never destroyed: the exit handler reads it after other statics are gone.
auto* stops = new std::vector<std::function<void()>>();

void run_stops() {
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard lock(stops_mutex);
    todo.swap(*stops);
  }
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) (*it)();
}

}  // namespace

void stop_at_exit(std::function<void()> stop) {
  std::lock_guard lock(stops_mutex);
  if (!registered) std::atexit(run_stops);
  registered = true;
  stops->push_back(std::move(stop));
}

}  // namespace baleen::sandbox
