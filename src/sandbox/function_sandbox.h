// The `function` substrate: built-in tools run in-process over one directory (the workspace, always
// read-write, or the spec's image), every path confined to
// it by the kernel (confined_path.h). exec's argv names a tool:
//   read_file PATH | write_file PATH (content on stdin) | list_dir [PATH] | search TEXT [PATH]
// A tool error is exit code 1 with the reason on stderr; an unknown tool is exit code 127.
#pragma once

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// The substrate's row of the table (sandbox.h).
const Substrate& function_substrate();

}  // namespace baleen::sandbox
