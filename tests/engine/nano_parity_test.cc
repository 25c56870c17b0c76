// Parity of the committed baleen-nano (trained, official layout, FP8 linears, FP4 experts) with the float64
// numpy forward of DeepSeek-V4 in reference/make_paper_logits.py, which reproduces transformers 5.17's logits
// on every model fixture: real conversations rendered and tokenized by baleen, in tests/fixtures/nano_parity/
// (made by reference/nano/make_parity_logits.py; meta.json holds the command and versions).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "../model/nano_checkpoint.h"
#include "backend/cpu/cpu_backend.h"
#include "core/npy.h"
#include "engine/model.h"
#include "model/checkpoint.h"

namespace baleen {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture = fs::path(BALEEN_SOURCE_DIR) / "tests" / "fixtures" / "nano_parity";
const char* const kPrompts[] = {"tool_thinking", "plain_chat"};

struct Reference {
  std::vector<int32_t> ids;
  std::vector<int32_t> top1;       // argmax over the whole vocabulary at every position
  std::vector<int32_t> positions;  // the positions whose logits are stored
  Tensor logits;                   // [positions, head rows]
};

Reference load_reference(const std::string& name) {
  const fs::path dir = kFixture / name;
  return {read_npy_int32(dir / "ids.npy"), read_npy_int32(dir / "top1.npy"),
          read_npy_int32(dir / "positions.npy"), read_npy_float32(dir / "logits.npy")};
}

// The model loaded once for the suite; the Model borrows the checkpoint's mapped weights and the backend.
struct Nano {
  Checkpoint checkpoint = Checkpoint::open(test::nano_dir());
  std::unique_ptr<Backend> backend = make_cpu_backend(0);
  Model model{checkpoint.config(), load_weights(checkpoint, *backend, WeightFormat::kStored), *backend};
};

class NanoParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::nano_unpacked()) nano_ = std::make_unique<Nano>();
  }
  static void TearDownTestSuite() { nano_.reset(); }
  void SetUp() override {
    if (!nano_) GTEST_SKIP() << "baleen-nano's shards are not unpacked (scripts/setup.sh)";
  }

  // Compares logits [T, vocab] with the reference from position `first` on: relative L2 and max |diff| over
  // the whole vocabulary at the stored positions (the reference of every other head row is exactly 0), greedy
  // top-1 at every position.
  void expect_parity(const std::string& mode, const Tensor& logits, const Reference& ref, int64_t first = 0) {
    const int64_t vocab = logits.dim(1), T = static_cast<int64_t>(ref.ids.size());
    double num = 0, den = 0, max_abs = 0;
    std::vector<float> expected(static_cast<size_t>(vocab));
    for (int64_t p = 0; p < static_cast<int64_t>(ref.positions.size()); ++p) {
      if (ref.positions[static_cast<size_t>(p)] < first) continue;
      std::fill(expected.begin(), expected.end(), 0.0f);
      for (size_t k = 0; k < head_rows_.size(); ++k) {
        expected[static_cast<size_t>(head_rows_[k])] = ref.logits.matrix()(p, static_cast<int64_t>(k));
      }
      const float* got = logits.matrix().row(ref.positions[static_cast<size_t>(p)]);
      for (int64_t v = 0; v < vocab; ++v) {
        const double e = expected[static_cast<size_t>(v)], d = double(got[v]) - e;
        num += d * d;
        den += e * e;
        max_abs = std::max(max_abs, std::abs(d));
      }
    }
    int64_t agree = 0;
    for (int64_t t = first; t < T; ++t) {
      const float* row = logits.matrix().row(t);
      agree += std::max_element(row, row + vocab) - row == ref.top1[static_cast<size_t>(t)];
    }
    const double relative_l2 = std::sqrt(num / den);
    std::printf("nano %-26s relative L2 %.3g, max |diff| %.3g, top-1 %ld/%ld\n", mode.c_str(), relative_l2,
                max_abs, static_cast<long>(agree), static_cast<long>(T - first));
    EXPECT_LE(relative_l2, 1e-4) << mode;
    EXPECT_EQ(agree, T - first) << mode;
  }

  static inline std::unique_ptr<Nano> nano_;
  const std::vector<int32_t> head_rows_ = read_npy_int32(kFixture / "head_rows.npy");
};

TEST_F(NanoParity, Fp32StateMatchesTheReferenceOnRealConversationsInEveryChunking) {
  Model& model = nano_->model;
  // The reference's non-zero head rows are the rows the engine's sparse head multiplies.
  EXPECT_EQ(model.head_rows_multiplied(), static_cast<int64_t>(head_rows_.size()));
  for (const std::string name : kPrompts) {
    SCOPED_TRACE(name);
    const Reference ref = load_reference(name);
    const int64_t T = static_cast<int64_t>(ref.ids.size());
    for (int64_t chunk : {T, int64_t{1}, int64_t{7}, int64_t{64}}) {
      SessionState state = model.new_session(StateStorage::kFp32);
      expect_parity(name + " chunk " + std::to_string(chunk), model.prefill(ref.ids, state, chunk), ref);
    }
  }
}

// Generation's path: the first half prefilled for its last row's logits only, then one token at a time.
TEST_F(NanoParity, Fp32StateDecodeStepsAfterAPrefilledPromptMatchTheReference) {
  Model& model = nano_->model;
  for (const std::string name : kPrompts) {
    SCOPED_TRACE(name);
    const Reference ref = load_reference(name);
    const int64_t T = static_cast<int64_t>(ref.ids.size()), prompt = T / 2;
    const std::span<const int32_t> ids(ref.ids);
    SessionState state = model.new_session(StateStorage::kFp32);
    Tensor logits({T, model.config().vocab_size});
    auto keep = [&](const Tensor& last, int64_t t) {
      ASSERT_EQ(last.dim(0), 1);
      std::copy(last.data(), last.data() + last.size(), logits.matrix().row(t));
    };
    keep(model.prefill(ids.first(static_cast<size_t>(prompt)), state, 64, LogitRows::kLast), prompt - 1);
    for (int64_t t = prompt; t < T; ++t) {
      keep(model.forward(ids.subspan(static_cast<size_t>(t), 1), state, LogitRows::kLast), t);
    }
    expect_parity(name + " decode", logits, ref, prompt - 1);
  }
}

}  // namespace
}  // namespace baleen
