// What the ranks of an expert-parallel group exchange (spec "Mixture of experts"; NCCL's grouped send/recv
// stands behind it on GPUs). Every rank calls each collective in the same order; a call returns once every
// rank has made it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace baleen {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // send[r] goes to rank r; returns what each rank sent to this one (received[r] from rank r).
  virtual std::vector<std::vector<uint8_t>> all_to_all(std::vector<std::vector<uint8_t>> send) = 0;
};

// `ranks` communicators of one group whose ranks are threads of this process (what the CPU tests run in
// place of NCCL). Each is used by one thread.
std::vector<std::unique_ptr<Communicator>> make_in_process_group(int ranks);

}  // namespace baleen
