// `baleen logits` and `generate` as separate processes: a session saved by one process continues in a fresh
// one with the bits of an uninterrupted run; a damaged state file and a backend this build lacks are refused
// with a clear message and a non-zero exit status.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/npy.h"
#include "core/tensor.h"

namespace baleen {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int status;
  std::string out;
};

Outcome run(const std::string& args) {
  FILE* pipe = ::popen((std::string(BALEEN_BINARY) + " " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class ModelCli : public ::testing::Test {
 protected:
  fs::path fixture = fs::path(BALEEN_SOURCE_DIR) / "tests/fixtures/official_fp8_fp4";
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen_cli_test_{}", ::getpid());
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

TEST_F(ModelCli, SessionSavedByOneProcessContinuesInAnotherWithTheSameBits) {
  const std::vector<int32_t> ids = read_npy_int32(fixture / "ids.npy");
  const size_t split = 97;  // inside a window of every ratio
  write_npy_int32(path("head.npy"), std::span(ids).first(split));
  write_npy_int32(path("tail.npy"), std::span(ids).subspan(split));
  for (const char* storage : {"fp32", "paper"}) {
    SCOPED_TRACE(storage);
    const std::string common = fmt::format("logits --model {} --kv-storage {} ", fixture.string(), storage);
    ASSERT_EQ(run(common + fmt::format("--ids {} --out {}", (fixture / "ids.npy").string(), path("whole.npy"))).status, 0);
    const Outcome saved =
        run(common + fmt::format("--ids {} --out {} --save-state {}", path("head.npy"), path("h.npy"), path("s.state")));
    ASSERT_EQ(saved.status, 0) << saved.out;
    const Outcome resumed =
        run(common + fmt::format("--ids {} --out {} --load-state {}", path("tail.npy"), path("t.npy"), path("s.state")));
    ASSERT_EQ(resumed.status, 0) << resumed.out;
    const Tensor whole = read_npy_float32(path("whole.npy")), tail = read_npy_float32(path("t.npy"));
    const int64_t v = whole.dim(1);
    ASSERT_EQ(tail.dim(0), static_cast<int64_t>(ids.size() - split));
    EXPECT_TRUE(std::equal(tail.data(), tail.data() + tail.size(), whole.data() + static_cast<int64_t>(split) * v));
  }
}

TEST_F(ModelCli, DamagedStateFilesAndMissingBackendsAreRefusedClearly) {
  const std::vector<int32_t> ids = read_npy_int32(fixture / "ids.npy");
  write_npy_int32(path("ids.npy"), std::span(ids).first(20));
  const std::string common = fmt::format("logits --model {} --ids {} --out {} ", fixture.string(), path("ids.npy"), path("o.npy"));
  ASSERT_EQ(run(common + "--save-state " + path("s.state")).status, 0);
  std::string bytes;
  {
    std::ifstream in(path("s.state"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(path("cut.state"), std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  Outcome cut = run(common + "--load-state " + path("cut.state"));
  EXPECT_EQ(cut.status, 1);
  EXPECT_NE(cut.out.find("checksum mismatch"), std::string::npos) << cut.out;
  Outcome wrong = run(common + "--kv-storage paper --load-state " + path("s.state"));
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.out.find("holds fp32 storage"), std::string::npos) << wrong.out;
  Outcome other = run(fmt::format("logits --model {} --ids {} --out {} --load-state {}",
                                  (fs::path(BALEEN_SOURCE_DIR) / "tests/fixtures/hash_yarn_off").string(), path("ids.npy"),
                                  path("o.npy"), path("s.state")));
  EXPECT_EQ(other.status, 1);
  EXPECT_NE(other.out.find("was made by model 'official_fp8_fp4'"), std::string::npos) << other.out;
  // Without CUDA in the build, a usage error naming the option; with it, on a machine without a GPU, the
  // backend's own failure to start (a test on the GPU machine would run it).
  Outcome cuda = run(common + "--backend cuda");
  if (BALEEN_BUILT_CUDA) {
    EXPECT_TRUE(cuda.status == 0 || cuda.status == 1) << cuda.out;
  } else {
    EXPECT_EQ(cuda.status, 2);
    EXPECT_NE(cuda.out.find("--backend cuda"), std::string::npos) << cuda.out;
  }
  Outcome unknown = run(common + "--backend tpu");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.out.find("unknown backend"), std::string::npos) << unknown.out;
}

}  // namespace
}  // namespace baleen
