// Whole models through the CUDA backend (src/backend/cuda/cuda_backend.h) against the references the CPU
// backend meets exactly: every committed transformers fixture (fp32 state vs logits.npy, paper state vs
// logits_paper.npy) and baleen-nano (the parity prompts' float64 reference; greedy continuations against the
// CPU backend's), batches against each sequence alone, and state that leaves the device and comes back.
// Skips without a CUDA device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../../model/nano_checkpoint.h"
#include "../cpu/random_inputs.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "core/npy.h"
#include "device_test_support.h"
#include "engine/model.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"

namespace baleen {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(BALEEN_SOURCE_DIR) / "tests" / "fixtures";

std::vector<fs::path> fixture_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    if (fs::exists(e.path() / "config.json") && fs::exists(e.path() / "logits.npy")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

int64_t argmax(const float* row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

int64_t top1_agreement(const Tensor& a, const Tensor& b) {
  int64_t agree = 0;
  const int64_t v = b.dim(1);
  for (int64_t t = 0; t < b.dim(0); ++t) agree += argmax(a.data() + t * v, v) == argmax(b.data() + t * v, v);
  return agree;
}

class CudaModel : public test::CudaTest {};

TEST_F(CudaModel, FixturesMatchTheirReferencesInBothStorageModesAndEveryChunking) {
  auto cuda = make_cuda_backend(0);
  for (const fs::path& dir : fixture_dirs()) {
    SCOPED_TRACE(dir.filename().string());
    const Checkpoint ckpt = Checkpoint::open(dir);
    const std::vector<int32_t> ids = read_npy_int32(dir / "ids.npy");
    const Tensor fp32_ref = read_npy_float32(dir / "logits.npy");
    const Tensor paper_ref = read_npy_float32(dir / "logits_paper.npy");
    Model model(ckpt.config(), load_weights(ckpt, *cuda, WeightFormat::kStored), *cuda);
    const auto T = static_cast<int64_t>(ids.size());
    for (const StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
      const bool paper = storage == StateStorage::kPaper;
      const Tensor& ref = paper ? paper_ref : fp32_ref;
      for (int64_t chunk : {T, int64_t{1}, int64_t{7}, int64_t{64}}) {
        SessionState state = model.new_session(storage);
        const Tensor logits = model.prefill(ids, state, chunk);
        const double err = test::relative_l2(logits, ref);
        const int64_t agree = top1_agreement(logits, ref);
        std::printf("cuda %-20s %s chunk %3ld: relative L2 %.3g, top-1 %ld/%ld\n", dir.filename().c_str(),
                    paper ? "paper" : "fp32 ", static_cast<long>(chunk), err, static_cast<long>(agree),
                    static_cast<long>(T));
        EXPECT_GE(agree * 100, T * 99) << "chunk " << chunk;
        if (!paper) {
          EXPECT_LE(err, 1e-3) << "chunk " << chunk;
        }
      }
    }
  }
}

// V4's attention shapes in a small model: 16 heads × 512 with 64 RoPE dims, a window of 128 and the three
// layer kinds (sliding, CSA at m = 4, HCA at m = 128), an indexer of 16 heads × 128, random weights. In
// paper storage the CUDA backend runs its tensor-core attention and its integer indexer scores here (nano
// and the fixtures have head dims the CUDA-core kernels take), so
// its logits are held against the CPU backend's: a 700-token prefill in chunks of 64 (the step's own rows
// beside stored ones, keys over several tiles and parts), then 16 decode steps on the CPU's greedy tokens.
// Paper storage re-rounds every KV row to FP8 and every indexer key and query to FP4, so fp32-level
// differences upstream (the backends' matmul orders) flip a few of those roundings and the indexer's
// top 16: on an H200 this model's logits differ from the CPU's by 1.9e-4 (prefill) and 2.7e-4 (decode);
// with a 2-head indexer they differed by 1.7e-4 and 4.7e-4, and by 1.8e-4 and 4.7e-4 with the CUDA-core
// attention in the tensor-core kernel's place, so the gap is the model's, not a kernel's. The bound is
// 1e-3 (the kernels themselves are held to their truth in the conformance suite and the kernel tests).
TEST_F(CudaModel, TensorCoreAttentionShapesMatchTheCpuBackend) {
  nlohmann::json config = random_checkpoint_config("tiny", 3);
  config.update({{"head_dim", 512}, {"qk_rope_head_dim", 64}, {"num_attention_heads", 16},
                 {"sliding_window", 128}, {"index_head_dim", 128}, {"index_n_heads", 16}, {"index_topk", 16}});
  const fs::path dir = fs::temp_directory_path() / ("baleen_tc_attention_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_random_checkpoint(config, dir, 7);
  const Checkpoint ckpt = Checkpoint::open(dir);
  auto cpu = make_cpu_backend(0);
  auto cuda = make_cuda_backend(0);
  Model on_cpu(ckpt.config(), load_weights(ckpt, *cpu, WeightFormat::kStored), *cpu);
  Model on_cuda(ckpt.config(), load_weights(ckpt, *cuda, WeightFormat::kStored), *cuda);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(ckpt.config().vocab_size) - 1);
  std::vector<int32_t> ids(700);
  for (int32_t& id : ids) id = token(rng);
  SessionState gpu = on_cuda.new_session(StateStorage::kPaper), host = on_cpu.new_session(StateStorage::kPaper);
  const Tensor a = on_cuda.prefill(ids, gpu, 64), b = on_cpu.prefill(ids, host, 64);
  const auto T = static_cast<int64_t>(ids.size());
  const int64_t agree = top1_agreement(a, b);
  std::printf("cuda tensor-core attention shapes, prefill: relative L2 %.3g to the cpu's, top-1 %ld/%ld\n",
              test::relative_l2(a, b), static_cast<long>(agree), static_cast<long>(T));
  EXPECT_LE(test::relative_l2(a, b), 1e-3);
  EXPECT_GE(agree * 100, T * 99);
  int32_t next = static_cast<int32_t>(argmax(b.matrix().row(T - 1), b.dim(1)));
  double worst = 0;
  for (int step = 0; step < 16; ++step) {
    const Tensor x = on_cuda.forward(std::span<const int32_t>(&next, 1), gpu, LogitRows::kLast);
    const Tensor y = on_cpu.forward(std::span<const int32_t>(&next, 1), host, LogitRows::kLast);
    worst = std::max(worst, test::relative_l2(x, y));
    next = static_cast<int32_t>(argmax(y.data(), y.dim(1)));
  }
  std::printf("cuda tensor-core attention shapes, 16 decode steps: worst relative L2 %.3g\n", worst);
  EXPECT_LE(worst, 1e-3);
  fs::remove_all(dir);
}

// baleen-nano on both backends, for the suite.
struct Nano {
  Checkpoint checkpoint = Checkpoint::open(test::nano_dir());
  std::unique_ptr<Backend> cpu = make_cpu_backend(0);
  std::unique_ptr<Backend> cuda = make_cuda_backend(0);
  Model on_cpu{checkpoint.config(), load_weights(checkpoint, *cpu, WeightFormat::kStored), *cpu};
  Model on_cuda{checkpoint.config(), load_weights(checkpoint, *cuda, WeightFormat::kStored), *cuda};
};

class CudaNano : public test::CudaTest {
 protected:
  void SetUp() override {
    test::CudaTest::SetUp();
    if (IsSkipped()) return;
    if (!test::nano_unpacked()) GTEST_SKIP() << "baleen-nano's shards are not unpacked (scripts/setup.sh)";
    if (!nano_) nano_ = std::make_unique<Nano>();
  }
  static void TearDownTestSuite() { nano_.reset(); }

  static std::vector<int32_t> ids(const std::string& prompt) {
    return read_npy_int32(kFixtures / "nano_parity" / prompt / "ids.npy");
  }
  // The first n greedy tokens after the prompt, with each step's margin between the best two logits.
  static std::vector<int32_t> greedy(Model& model, std::span<const int32_t> prompt, int64_t n, StateStorage storage,
                                     std::vector<float>* margins = nullptr) {
    SessionState state = model.new_session(storage);
    Tensor last = model.prefill(prompt, state, kPrefillChunk, LogitRows::kLast);
    std::vector<int32_t> out;
    const int64_t vocab = model.config().vocab_size;
    for (int64_t i = 0; i < n; ++i) {
      const float* row = last.data();
      const auto best = static_cast<int32_t>(argmax(row, vocab));
      if (margins) {
        float second = -INFINITY;
        for (int64_t v = 0; v < vocab; ++v) {
          if (v != best) second = std::max(second, row[v]);
        }
        margins->push_back(row[best] - second);
      }
      out.push_back(best);
      last = model.forward(std::span<const int32_t>(&out.back(), 1), state, LogitRows::kLast);
    }
    return out;
  }

  static inline std::unique_ptr<Nano> nano_;
};

TEST_F(CudaNano, ParityPromptsMatchTheFloat64ReferenceAndTheCpuBackend) {
  const auto head_rows = read_npy_int32(kFixtures / "nano_parity" / "head_rows.npy");
  for (const std::string name : {"tool_thinking", "plain_chat"}) {
    SCOPED_TRACE(name);
    const fs::path dir = kFixtures / "nano_parity" / name;
    const std::vector<int32_t> prompt = ids(name), top1 = read_npy_int32(dir / "top1.npy");
    const std::vector<int32_t> positions = read_npy_int32(dir / "positions.npy");
    const Tensor ref = read_npy_float32(dir / "logits.npy");
    for (const StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
      SessionState gpu = nano_->on_cuda.new_session(storage), cpu = nano_->on_cpu.new_session(storage);
      const Tensor a = nano_->on_cuda.prefill(prompt, gpu, 64), b = nano_->on_cpu.prefill(prompt, cpu, 64);
      const auto T = static_cast<int64_t>(prompt.size());
      int64_t agree_ref = 0;
      for (int64_t t = 0; t < T; ++t) agree_ref += argmax(a.matrix().row(t), a.dim(1)) == top1[static_cast<size_t>(t)];
      // The reference's stored rows: its non-zero head rows at the stored positions (fp32 storage only).
      double num = 0, den = 0;
      for (size_t p = 0; p < positions.size(); ++p) {
        for (size_t k = 0; k < head_rows.size(); ++k) {
          const double e = ref.matrix()(static_cast<int64_t>(p), static_cast<int64_t>(k));
          const double d = a.matrix()(positions[p], head_rows[k]) - e;
          num += d * d, den += e * e;
        }
      }
      const bool paper = storage == StateStorage::kPaper;
      const int64_t agree_cpu = top1_agreement(a, b);
      std::printf("cuda nano %-13s %s: vs reference relative L2 %.3g top-1 %ld/%ld; vs cpu relative L2 %.3g "
                  "top-1 %ld/%ld\n",
                  name.c_str(), paper ? "paper" : "fp32 ", std::sqrt(num / den), static_cast<long>(agree_ref),
                  static_cast<long>(T), test::relative_l2(a, b), static_cast<long>(agree_cpu), static_cast<long>(T));
      EXPECT_GE(agree_cpu * 100, T * 99);
      if (!paper) {
        EXPECT_GE(agree_ref * 100, T * 99);
        EXPECT_LE(std::sqrt(num / den), 1e-3);
      }
    }
  }
}

// The bar: the first 64 greedy tokens equal the CPU backend's, or the first divergence is a near-tie.
TEST_F(CudaNano, GreedyContinuationsEqualTheCpuBackendsOrDivergeOnlyAtANearTie) {
  for (const std::string name : {"tool_thinking", "plain_chat"}) {
    for (const StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
      SCOPED_TRACE(name + (storage == StateStorage::kPaper ? " paper" : " fp32"));
      std::vector<float> margins;
      const std::vector<int32_t> prompt = ids(name);
      const auto gpu = greedy(nano_->on_cuda, prompt, 64, storage);
      const auto cpu = greedy(nano_->on_cpu, prompt, 64, storage, &margins);
      const auto diverge = std::mismatch(gpu.begin(), gpu.end(), cpu.begin()).first - gpu.begin();
      std::printf("cuda nano greedy %-13s %s: %ld of 64 tokens equal the cpu's%s\n", name.c_str(),
                  storage == StateStorage::kPaper ? "paper" : "fp32 ", static_cast<long>(diverge),
                  diverge < 64 ? fmt::format(" (cpu margin there {:.3g})", margins[static_cast<size_t>(diverge)]).c_str()
                               : "");
      if (diverge < 64) {
        EXPECT_LT(margins[static_cast<size_t>(diverge)], 0.05f) << "diverged at " << diverge;
      }
    }
  }
}

// A batch of sessions at different positions, decode and prefill mixed, gives each the bits it gets alone:
// every kernel computes a row from that row's inputs only.
TEST_F(CudaNano, SessionsInOneForwardGiveTheBitsOfEachAlone) {
  Model& model = nano_->on_cuda;
  const std::vector<int32_t> a = ids("tool_thinking"), b = ids("plain_chat");
  for (const StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    SCOPED_TRACE(storage == StateStorage::kPaper ? "paper" : "fp32");
    // Three sessions with prompts of different lengths, then one step: two decode tokens and a chunk.
    const std::span<const int32_t> pa(a), pb(b);
    SessionState s[3] = {model.new_session(storage), model.new_session(storage), model.new_session(storage)};
    SessionState alone[3] = {model.new_session(storage), model.new_session(storage), model.new_session(storage)};
    const std::span<const int32_t> first[3] = {pa.first(300), pb.first(50), pa.first(7)};
    const std::span<const int32_t> next[3] = {pa.subspan(300, 1), pb.subspan(50, 1), pa.subspan(7, 40)};
    for (int i = 0; i < 3; ++i) {
      model.prefill(first[i], s[i], kPrefillChunk, LogitRows::kNone);
      model.prefill(first[i], alone[i], kPrefillChunk, LogitRows::kNone);
    }
    const BatchSequence batch[3] = {{&s[0], next[0], LogitRows::kAll}, {&s[1], next[1], LogitRows::kAll},
                                    {&s[2], next[2], LogitRows::kAll}};
    const Tensor together = model.forward(batch);
    int64_t row = 0;
    for (int i = 0; i < 3; ++i) {
      const Tensor one = model.forward(next[i], alone[i], LogitRows::kAll);
      EXPECT_TRUE(std::equal(one.data(), one.data() + one.size(), together.matrix().row(row))) << "session " << i;
      row += one.dim(0);
    }
  }
}

// A state exported to the host and imported back, or forked, continues with the same bits; one the CPU
// backend exported continues alike.
TEST_F(CudaNano, ExportedImportedAndForkedStatesContinueIdentically) {
  Model& model = nano_->on_cuda;
  Backend& cuda = *nano_->cuda;
  const std::vector<int32_t> prompt = ids("tool_thinking");
  const std::span<const int32_t> p(prompt);
  for (const StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    SCOPED_TRACE(storage == StateStorage::kPaper ? "paper" : "fp32");
    SessionState original = model.new_session(storage);
    model.prefill(p.first(333), original, kPrefillChunk, LogitRows::kNone);
    const StateImage image = cuda.export_state(original.id());
    SessionState imported(cuda, cuda.import_state(state_spec(model.config(), storage), image), storage, 333);
    SessionState forked = original.fork();
    const Tensor want = model.forward(p.subspan(333, 20), original, LogitRows::kAll);
    const Tensor got_import = model.forward(p.subspan(333, 20), imported, LogitRows::kAll);
    const Tensor got_fork = model.forward(p.subspan(333, 20), forked, LogitRows::kAll);
    EXPECT_TRUE(std::equal(want.data(), want.data() + want.size(), got_import.data())) << "imported";
    EXPECT_TRUE(std::equal(want.data(), want.data() + want.size(), got_fork.data())) << "forked";
    // A state saved on the CPU backend continues on this one: the same image format and checks.
    SessionState on_cpu = nano_->on_cpu.new_session(storage);
    nano_->on_cpu.prefill(p.first(333), on_cpu, kPrefillChunk, LogitRows::kNone);
    SessionState moved(cuda, cuda.import_state(state_spec(model.config(), storage), nano_->cpu->export_state(on_cpu.id())),
                       storage, 333);
    const Tensor got_moved = model.forward(p.subspan(333, 20), moved, LogitRows::kAll);
    std::printf("cuda nano continuing a cpu state (%s): relative L2 %.3g to continuing its own\n",
                storage == StateStorage::kPaper ? "paper" : "fp32", test::relative_l2(got_moved, want));
    EXPECT_EQ(top1_agreement(got_moved, want), want.dim(0));
    // The device holds what the state accounting counts, as the CPU backend does.
    nano_->on_cpu.forward(p.subspan(333, 20), on_cpu, LogitRows::kNone);
    const StateUsage u = cuda.state_usage(original.id()), c = on_cpu.usage();
    std::printf("cuda nano state after 353 tokens (%s): %ld bytes (cpu %ld)\n",
                storage == StateStorage::kPaper ? "paper" : "fp32", static_cast<long>(u.bytes), static_cast<long>(c.bytes));
    EXPECT_EQ(u.bytes, c.bytes);
    EXPECT_EQ(u.entries, c.entries);
    EXPECT_EQ(u.indexer_entries, c.indexer_entries);
  }
}

}  // namespace
}  // namespace baleen
