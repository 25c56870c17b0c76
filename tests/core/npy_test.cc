#include "core/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"

namespace baleen {
namespace {

std::filesystem::path temp(const char* name) {
  return std::filesystem::temp_directory_path() / name;
}

TEST(Npy, Int32AndFloat32RoundTrip) {
  std::mt19937 rng(31);
  std::vector<int32_t> ids = {0, 7, -3, 129279, 42};
  write_npy_int32(temp("baleen_ids.npy"), ids);
  EXPECT_EQ(read_npy_int32(temp("baleen_ids.npy")), ids);
  Tensor m({3, 5});
  std::normal_distribution<float> dist;
  for (float& v : m.values()) v = dist(rng);
  write_npy_float32(temp("baleen_m.npy"), m);
  const Tensor back = read_npy_float32(temp("baleen_m.npy"));
  EXPECT_EQ(back.shape(), m.shape());
  EXPECT_TRUE(std::equal(m.values().begin(), m.values().end(), back.values().begin()));
}

TEST(Npy, ReadsNumpysOwnHeader) {
  // Bytes as numpy 1.x writes np.array([1, 2], dtype='<i4').
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
  header.append(118 - header.size() - 1, ' ');
  header.push_back('\n');
  std::ofstream out(temp("baleen_np.npy"), std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size()), 0};
  out.write(len, 2);
  out << header;
  const int32_t values[2] = {1, 2};
  out.write(reinterpret_cast<const char*>(values), 8);
  out.close();
  EXPECT_EQ(read_npy_int32(temp("baleen_np.npy")), (std::vector<int32_t>{1, 2}));
}

TEST(Npy, ClearErrorsForWrongDtypeRankAndTruncation) {
  write_npy_int32(temp("baleen_ids2.npy"), std::vector<int32_t>{1, 2, 3});
  try {
    read_npy_float32(temp("baleen_ids2.npy"));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected dtype <f4"), std::string::npos) << e.what();
  }
  std::filesystem::resize_file(temp("baleen_ids2.npy"),
                               std::filesystem::file_size(temp("baleen_ids2.npy")) - 2);
  EXPECT_THROW(read_npy_int32(temp("baleen_ids2.npy")), Error);
  std::ofstream(temp("baleen_bad.npy")) << "not numpy";
  EXPECT_THROW(read_npy_int32(temp("baleen_bad.npy")), Error);
  EXPECT_THROW(read_npy_int32(temp("baleen_missing_file.npy")), Error);
}

}  // namespace
}  // namespace baleen
