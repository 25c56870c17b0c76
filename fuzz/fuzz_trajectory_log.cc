// Fuzzes the trajectory log reader: arbitrary bytes as a log file. parse() and open() (which repairs a
// torn tail) must agree, only ever return whole checksummed records or throw baleen::Error, and leave a
// log that takes appends; replaying the records must only return logged values or throw baleen::Error.
// The first byte picks the input's shape: raw file bytes, or newline-separated payloads framed by
// append() and then cut short at a point drawn from the input (CRCs hold, so decoding and replay run).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "trajectory/replay.h"
#include "trajectory/trajectory_log.h"
#include "trajectory/trajectory_record.h"

namespace {

using namespace baleen::trajectory;

// tmpfs when there is one: fdatasync is then free.
const std::string& log_path() {
  static const std::string path = [] {
    std::filesystem::path dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (dir / ("fuzz-trajectory-" + std::to_string(::getpid()))).string();
  }();
  return path;
}

void put_bytes(std::string_view bytes) {
  std::ofstream(log_path(), std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string file_bytes() {
  std::ifstream in(log_path(), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Valid records framed by append(), cut at `cut` % (size + 1) bytes.
std::string framed(std::string_view text, uint8_t cut) {
  std::filesystem::remove(log_path());
  {
    TrajectoryLog log = TrajectoryLog::open(log_path());
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      log.append(text.substr(start, end - start));
      start = end + 1;
    }
  }
  std::string bytes = file_bytes();
  if (cut != 0) bytes.resize(bytes.size() - cut % (bytes.size() + 1));
  return bytes;
}

// Asks the session for every logged record in order, as the agent loop would.
void replay(TrajectoryLog& log) {
  TrajectorySession session(log);
  const std::vector<std::string> logged = log.payloads();  // the session appends to the log's own list
  for (const std::string& payload : logged) {
    const TrajectoryRecord record = decode_record(payload);
    if (record.type == RecordType::kUser) {
      const std::optional<std::string> got =
          session.user_turn(record.user.turn, [] { return std::optional<std::string>("live"); });
      if (got != record.user.content) std::abort();
    } else if (record.type == RecordType::kModel) {
      const ModelStep& m = record.model;
      const ModelStep got =
          session.model_step(m.step, m.prompt_tokens, m.prompt_hash, [] { return ModelStep{}; });
      if (got.output != m.output) std::abort();
    } else if (record.type == RecordType::kStop) {
      session.stop(record.step);
    } else {
      session.tool_call(record.step, record.call, record.tool_call, [] {
        return ToolResult{"live", false, 1};
      });
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baleen::log::set_level(baleen::log::Level::kError);  // a torn-tail warning per input drowns the fuzzer
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string bytes;
  try {
    bytes = (data[0] & 1) ? framed(rest, data[1]) : std::string(rest);
  } catch (const baleen::Error&) {
    return 0;  // a payload over the size limit
  }
  put_bytes(bytes);
  LogContents contents;
  bool parsed = true;
  try {
    contents = TrajectoryLog::parse(bytes, "fuzz");
  } catch (const baleen::Error&) {
    parsed = false;
  }
  if (parsed && contents.valid_bytes + contents.torn_bytes != static_cast<int64_t>(bytes.size()))
    std::abort();
  try {
    TrajectoryLog log = TrajectoryLog::open(log_path());
    if (!parsed || log.payloads() != contents.payloads) std::abort();  // open() and parse() disagree
    try {
      replay(log);
    } catch (const baleen::Error&) {
      // an undecodable record or a divergence: reported, not a crash
    }
  } catch (const baleen::Error&) {
    if (parsed) std::abort();  // parse() accepted what open() refused
    return 0;
  }
  // The repaired log (plus whatever replay appended) reads back whole, its old records first.
  const LogContents reread = TrajectoryLog::read(log_path());
  if (reread.torn_bytes != 0 || reread.payloads.size() < contents.payloads.size() ||
      !std::equal(contents.payloads.begin(), contents.payloads.end(), reread.payloads.begin())) {
    std::abort();
  }
  return 0;
}
