// baleen-sandbox-init: the first process of a `process` sandbox (sandbox_init.h). The process
// substrate execs it into the sandbox's new namespaces as `baleen-sandbox-init CHANNEL_FD
// own-network|host-network`; run by hand it only explains itself.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sandbox/sandbox_init.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "baleen-sandbox-init is started by baleen's process sandbox substrate, not by hand\n");
    return 2;
  }
  baleen::sandbox::run_sandbox_init(std::atoi(argv[1]), std::strcmp(argv[2], "own-network") == 0);
}
