// A session's state on disk, the building block of a persistent prefix cache. Layout (little-endian):
//   "BALEENST" | u32 version | u32 storage (0 fp32, 1 paper) | u64 model fingerprint | u32 name bytes | name |
//   the state spec (what the session holds per layer: formats, ratios) | i64 length |
//   per layer: the window rows, then each compressor's tail, overlap and entry rows (StateImage) |
//   u32 CRC-32C of every byte before it.
// save_state writes a temporary file beside the target, fsyncs it and renames it over the target (then
// fsyncs the directory), so a crash or kill -9 mid-write leaves the previous file intact. decode refuses,
// with an Error naming the file and what is wrong, a truncated or bit-flipped file, another version, another
// model or storage mode, or sizes that do not follow from the state's length — before it allocates them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "backend/state_image.h"
#include "engine/model.h"
#include "engine/session_state.h"

namespace baleen {

// Which weights a state was computed with (a state is valid only for the exact model that made it).
struct ModelIdentity {
  std::string name;
  uint64_t fingerprint = 0;
};

inline constexpr uint32_t kStateFileVersion = 1;

std::string encode_state_file(const StateImage& image, const StateSpec& spec, StateStorage storage,
                              const ModelIdentity& model);
// `what` names the source in errors (a file path).
StateImage decode_state_file(std::string_view bytes, const StateSpec& spec, StateStorage storage,
                             const ModelIdentity& model, const std::string& what);

void save_state(const std::filesystem::path& file, const SessionState& state, const Model& model,
                const ModelIdentity& identity);
SessionState load_state(const std::filesystem::path& file, Model& model, StateStorage storage,
                        const ModelIdentity& identity);

}  // namespace baleen
