#include "backend/communicator.h"

#include <condition_variable>
#include <mutex>

#include "core/error.h"

namespace baleen {
namespace {

// The group's mailbox: box[from][to], filled by every rank, then read by every rank; a generation count
// keeps one exchange's readers apart from the next one's writers.
struct Mailbox {
  explicit Mailbox(int ranks) : box(static_cast<size_t>(ranks), std::vector<std::vector<uint8_t>>(static_cast<size_t>(ranks))) {}
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<std::vector<uint8_t>>> box;
  int arrived = 0, left = 0;
  uint64_t generation = 0;
};

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<Mailbox> mail, int rank) : mail_(std::move(mail)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(mail_->box.size()); }

  std::vector<std::vector<uint8_t>> all_to_all(std::vector<std::vector<uint8_t>> send) override {
    check(static_cast<int>(send.size()) == size(), "all_to_all: {} buffers for a group of {}", send.size(), size());
    Mailbox& m = *mail_;
    std::unique_lock lock(m.mutex);
    m.changed.wait(lock, [&] { return m.left == 0; });  // the previous exchange has been read by all
    const uint64_t generation = m.generation;
    for (int to = 0; to < size(); ++to) m.box[static_cast<size_t>(rank_)][static_cast<size_t>(to)] = std::move(send[static_cast<size_t>(to)]);
    if (++m.arrived == size()) {
      m.arrived = 0;
      m.left = size();
      ++m.generation;
      m.changed.notify_all();
    } else {
      m.changed.wait(lock, [&] { return m.generation != generation; });
    }
    std::vector<std::vector<uint8_t>> received(static_cast<size_t>(size()));
    for (int from = 0; from < size(); ++from) received[static_cast<size_t>(from)] = std::move(m.box[static_cast<size_t>(from)][static_cast<size_t>(rank_)]);
    if (--m.left == 0) m.changed.notify_all();
    return received;
  }

 private:
  std::shared_ptr<Mailbox> mail_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_in_process_group(int ranks) {
  check(ranks >= 1, "a communicator group needs at least one rank, not {}", ranks);
  auto mail = std::make_shared<Mailbox>(ranks);
  std::vector<std::unique_ptr<Communicator>> group;
  for (int r = 0; r < ranks; ++r) group.push_back(std::make_unique<InProcessCommunicator>(mail, r));
  return group;
}

}  // namespace baleen
