#include "model/safetensors_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "core/error.h"
#include "model/safetensors.h"
#include "tiny_checkpoint.h"

namespace baleen {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const std::vector<SafetensorsTensor> kTensors = {
    {"w", DType::kF8E4M3, {3, 7}, random_bytes(21, 1)},
    {"w.scale", DType::kUE8M0, {1, 1}, random_bytes(1, 2)},
    {"x", DType::kBF16, {5}, random_bytes(10, 3)},
};

std::vector<TensorSpec> specs() {
  std::vector<TensorSpec> out;
  for (const auto& t : kTensors) out.push_back({t.name, t.dtype, t.shape});
  return out;
}

TEST(SafetensorsWriter, StreamedPiecesGiveTheSerializedFile) {
  const auto dir = testing::fresh_dir("writer_stream");
  std::vector<uint8_t> data;
  for (const auto& t : kTensors) data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  SafetensorsWriter w(dir / "a.safetensors", specs(), {{"format", "pt"}});
  for (size_t i = 0; i < data.size(); i += 5) {  // pieces that straddle tensors
    w.append({data.data() + i, std::min<size_t>(5, data.size() - i)});
  }
  EXPECT_EQ(w.current().name, "x");
  w.finish();
  EXPECT_EQ(read_all(dir / "a.safetensors"), serialize_safetensors(kTensors, {{"format", "pt"}}));
  EXPECT_EQ(std::filesystem::file_size(dir / "a.safetensors"),
            safetensors_file_size(specs(), {{"format", "pt"}}));
  EXPECT_EQ(SafetensorsFile::open(dir / "a.safetensors").entries().size(), kTensors.size());
}

TEST(SafetensorsWriter, WrongByteCountsAreErrorsAndLeaveNoFile) {
  const auto dir = testing::fresh_dir("writer_errors");
  {
    SafetensorsWriter w(dir / "short.safetensors", specs());
    w.append(kTensors[0].bytes);
    EXPECT_THROW(w.finish(), Error);                     // w.scale and x missing
    EXPECT_THROW(w.append(random_bytes(40, 4)), Error);  // past the end
  }
  {
    SafetensorsWriter w(dir / "dropped.safetensors", specs());
    w.append(kTensors[0].bytes);
  }  // destroyed unfinished, as by an exception
  EXPECT_FALSE(std::filesystem::exists(dir / "short.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "dropped.safetensors"));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  EXPECT_THROW(
      SafetensorsWriter(dir / "twice.safetensors", {{"a", DType::kF32, {1}}, {"a", DType::kF32, {1}}}),
      Error);
}

}  // namespace
}  // namespace baleen
