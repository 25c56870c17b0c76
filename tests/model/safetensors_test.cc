#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "core/error.h"
#include "tiny_checkpoint.h"

namespace baleen {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// A file with a hand-written header followed by `data_bytes` bytes of data.
std::vector<uint8_t> with_header(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>((header.size() >> (8 * i)) & 0xFF);
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0x5A);
  return out;
}

std::string parse_error(const std::vector<uint8_t>& file) {
  try {
    parse_safetensors(file, "test.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, WrittenFileReadsBackThroughMmap) {
  const auto dir = testing::fresh_dir("safetensors_roundtrip");
  const std::vector<SafetensorsTensor> tensors = {
      {"a", DType::kF32, {3, 5}, random_bytes(60, 1)},
      {"b.scale", DType::kUE8M0, {2, 2}, random_bytes(4, 2)},
      {"c", DType::kBF16, {7}, random_bytes(14, 3)},
      {"d", DType::kF4E2M1x2, {4, 6}, random_bytes(12, 4)},
      {"e", DType::kI64, {0}, {}},
  };
  write_safetensors(dir / "x.safetensors", tensors, {{"format", "pt"}});
  const SafetensorsFile f = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.entries().size(), tensors.size());
  for (const auto& t : tensors) {
    const SafetensorsEntry* e = f.find(t.name);
    ASSERT_NE(e, nullptr) << t.name;
    EXPECT_EQ(e->dtype, t.dtype);
    EXPECT_EQ(e->shape, t.shape);
    ASSERT_EQ(e->nbytes(), t.bytes.size());
    if (t.bytes.empty()) continue;
    EXPECT_EQ(std::memcmp(f.data(*e), t.bytes.data(), t.bytes.size()), 0) << t.name;
  }
  EXPECT_EQ(f.find("zzz"), nullptr);
}

TEST(Safetensors, CorruptHeadersAreClearErrors) {
  struct Case {
    const char* what;
    std::vector<uint8_t> file;
    const char* expect;
  };
  const std::string ok = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<uint8_t> past_eof = with_header("{" + ok + "}", 8);
  past_eof[0] = 0xFF;  // header length 255 > file
  std::vector<uint8_t> huge = with_header("{}", 0);
  huge[7] = 0x7F;
  const std::vector<Case> cases = {
      {"truncated", {1, 2, 3}, "truncated"},
      {"header length past EOF", past_eof, "runs past the end of the file"},
      {"huge header length", huge, "runs past the end of the file"},
      {"malformed JSON", with_header("{\"t\": {\"dtype\": ", 8), "malformed safetensors header JSON"},
      {"not an object", with_header("[1, 2]", 0), "must be a JSON object"},
      {"deep nesting", with_header(std::string(500, '[') + std::string(500, ']'), 0), "nesting"},
      {"unknown dtype", with_header(R"({"t":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", 8),
       "unknown dtype 'F128'"},
      {"missing dtype", with_header(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), "missing dtype"},
      {"missing shape", with_header(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8), "missing shape"},
      {"missing offsets", with_header(R"({"t":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {"negative dim", with_header(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "non-negative"},
      {"wrong byte size", with_header(R"({"t":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}})", 8),
       "8 bytes in data_offsets but dtype BF16 × shape needs 4"},
      {"offsets past end", with_header(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
       "run past the end of the data area"},
      {"backwards offsets", with_header(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
       "run backwards"},
      {"overlapping",
       with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   16),
       "overlap"},
      {"duplicate name", with_header("{" + ok + "," + ok + "}", 8), "duplicate tensor 't'"},
      {"odd FP4 count", with_header(R"({"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
       "whole bytes"},
      {"shape overflow",
       with_header(R"({"t":{"dtype":"F32","shape":[281474976710656,281474976710656],)"
                   R"("data_offsets":[0,8]}})",
                   8),
       "overflows"},
      {"bad metadata", with_header(R"({"__metadata__":{"k":1}})", 0), "__metadata__"},
  };
  for (const auto& c : cases) {
    const std::string error = parse_error(c.file);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.what << ": '" << error << "'";
    EXPECT_NE(error.find("test.safetensors"), std::string::npos) << c.what << ": " << error;
  }
}

TEST(Safetensors, TruncatedFileOnDiskIsAnErrorNotACrash) {
  const auto dir = testing::fresh_dir("safetensors_truncated");
  const auto bytes = serialize_safetensors({{"w", DType::kF32, {64}, random_bytes(256, 9)}});
  for (size_t keep : {size_t{0}, size_t{5}, size_t{8}, size_t{20}, bytes.size() - 1}) {
    const auto path = dir / "t.safetensors";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(keep));
    try {
      SafetensorsFile::open(path);
      FAIL() << "kept " << keep << " bytes: no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("t.safetensors"), std::string::npos) << e.what();
    }
  }
}

TEST(Safetensors, RandomByteFlipsNeverCrash) {
  const auto good = serialize_safetensors(
      {{"a", DType::kF32, {3, 5}, random_bytes(60, 1)}, {"b", DType::kBF16, {7}, random_bytes(14, 3)}});
  std::mt19937 rng(2024);
  int rejected = 0;
  for (int round = 0; round < 2000; ++round) {
    auto bad = good;
    const size_t header_end = 8 + (static_cast<size_t>(good[0]) | static_cast<size_t>(good[1]) << 8);
    for (int k = 0; k < 3; ++k) bad[rng() % header_end] = static_cast<uint8_t>(rng());
    rejected += parse_error(bad).empty() ? 0 : 1;
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace baleen
