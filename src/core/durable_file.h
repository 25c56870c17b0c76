// Writing a whole file so that a crash or kill -9 at any moment leaves either the previous file or the
// complete new one under its name: the bytes go to `<file>.tmp` beside it, are fdatasync'd, renamed over
// `file`, and the directory is fsync'd so the rename itself is on disk. Throws Error naming the file.
#pragma once

#include <filesystem>
#include <string_view>

namespace baleen {

inline constexpr std::string_view kTemporarySuffix = ".tmp";

void write_file_durably(const std::filesystem::path& file, std::string_view data);

// The whole file; Error naming it when it cannot be opened or read.
std::string read_file(const std::filesystem::path& file);

}  // namespace baleen
