// The messages between a `microvm` sandbox's host side and its guest agent, over a virtio-serial
// port (a QEMU chardev unix socket, state_dir/agent.sock, on the host). A frame is
// "BLVM" | u32 length | MessagePack payload of one JSON object; byte strings travel as MessagePack
// binary. Every request carries "seq" and its reply echoes it. A host that dies mid-frame leaves
// garbage for the next one, so readers skip to the next magic and callers drop replies to others'
// requests.
//   ping                                    → pong
//   exec {argv, env, cwd, stdin, timeout_ms, output_bytes}
//                                           → exec_result {exit_code, signal, timed_out, stdout,
//                                             stderr, *_truncated, wall_ns, cpu_us, max_rss_kb}
//   write_file {path, data, mode}           → ok
//   read_file {path, max_bytes}             → file {data}
//   shutdown                                → ok, then the guest powers off
// A request that fails in the guest gets {op: "error", message}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace baleen::sandbox::microvm_protocol {

inline constexpr uint32_t kMagic = 0x4d564c42;  // "BLVM" in little-endian bytes
// Bounds one frame: read_file's default cap (64 MiB) plus room for the envelope.
inline constexpr uint32_t kMaxFrameBytes = (64u << 20) + 4096;

// Writes one whole frame; throws baleen::Error when the peer is gone.
void write_frame(int fd, const nlohmann::json& message);

// Reads the next frame, skipping bytes up to the next magic and frames that do not parse.
// Returns nullopt at end of file (the peer disconnected), also in the middle of a frame.
std::optional<nlohmann::json> read_frame(int fd);

}  // namespace baleen::sandbox::microvm_protocol
