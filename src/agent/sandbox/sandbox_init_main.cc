// baleen-sandbox-init: the first process of a `process` sandbox (sandbox_init.h). The process
// substrate execs it into the sandbox's new namespaces with the encoded plan on descriptor argv[1];
// run by hand it only explains itself.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/sandbox/sandbox_init.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "baleen-sandbox-init is started by baleen's process sandbox substrate, not by hand\n");
    return 2;
  }
  int fd = std::atoi(argv[1]);
  std::string bytes;
  char buffer[65536];
  ssize_t got;
  while ((got = ::read(fd, buffer, sizeof(buffer))) > 0) bytes.append(buffer, static_cast<size_t>(got));
  ::close(fd);
  baleen::agent::InitPlan plan;
  // A bad plan means a mismatched creator; exiting makes it report "init exited during setup".
  if (got < 0 || !baleen::agent::decode_init_plan(bytes, &plan)) return 2;
  baleen::agent::run_sandbox_init(plan);
}
