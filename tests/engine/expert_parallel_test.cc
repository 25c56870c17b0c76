// Expert parallelism on the CPU (backend/communicator.h, cpu_backend.h): R ranks in one process, each a
// backend owning E/R of the routed experts and its own sessions (attention data-parallel), exchanging
// tokens over the in-process group. Each rank's logits are bit for bit those of one device running the
// same sequence alone, for prefill chunks and decode steps of different lengths on every rank, in both
// storage modes, with 2 and 3 ranks (3 does not divide the 6 experts evenly).
#include <gtest/gtest.h>

#include <bit>
#include <thread>

#include "backend/communicator.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "engine/model.h"
#include "small_model.h"

namespace baleen {
namespace {

// Logits of a prefill of ids[0, split) then decode steps over the rest, one token each, concatenated.
std::vector<float> run(Model& model, const std::vector<int32_t>& ids, int64_t split, StateStorage storage) {
  SessionState s = model.new_session(storage);
  std::vector<float> out;
  const Tensor first = model.forward(std::span(ids).first(static_cast<size_t>(split)), s);
  out.insert(out.end(), first.data(), first.data() + first.size());
  for (size_t i = static_cast<size_t>(split); i < ids.size(); ++i) {
    const Tensor step = model.forward(std::span(ids).subspan(i, 1), s);
    out.insert(out.end(), step.data(), step.data() + step.size());
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  }
  return true;
}

TEST(ExpertParallel, EachRanksLogitsAreTheBitsOfOneDevice) {
  const Config config = test::small_config();
  for (StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    for (int ranks : {2, 3}) {
      // Rank r prefills 6 + 9r tokens (so ranks differ in length), then decodes 3 more.
      std::vector<std::vector<int32_t>> ids;
      std::vector<int64_t> split;
      for (int r = 0; r < ranks; ++r) {
        split.push_back(6 + 9 * r);
        ids.push_back(test::random_ids(split.back() + 3, config.vocab_size, 100 + static_cast<uint32_t>(r)));
      }
      std::vector<std::vector<float>> want(static_cast<size_t>(ranks)), got(static_cast<size_t>(ranks));
      {
        auto backend = make_cpu_backend(2);
        Model alone(config, random_weights(config, 42), *backend);
        for (int r = 0; r < ranks; ++r) want[static_cast<size_t>(r)] = run(alone, ids[static_cast<size_t>(r)], split[static_cast<size_t>(r)], storage);
      }
      auto group = make_in_process_group(ranks);
      std::vector<std::thread> threads;
      std::vector<std::string> errors(static_cast<size_t>(ranks));
      for (int r = 0; r < ranks; ++r) {
        threads.emplace_back([&, r] {
          try {
            auto backend = make_cpu_backend(1, group[static_cast<size_t>(r)].get());
            Model model(config, random_weights(config, 42), *backend);
            got[static_cast<size_t>(r)] = run(model, ids[static_cast<size_t>(r)], split[static_cast<size_t>(r)], storage);
          } catch (const Error& e) {
            errors[static_cast<size_t>(r)] = e.what();
          }
        });
      }
      for (std::thread& t : threads) t.join();
      for (int r = 0; r < ranks; ++r) {
        const size_t i = static_cast<size_t>(r);
        ASSERT_EQ(errors[i], "") << "rank " << r;
        EXPECT_TRUE(same_bits(got[i], want[i])) << ranks << " ranks, rank " << r << (storage == StateStorage::kPaper ? ", paper" : ", fp32");
      }
    }
  }
}

// The group's exchange itself: every rank gets what each other rank addressed to it, in back-to-back rounds.
TEST(ExpertParallel, InProcessAllToAllDeliversEveryBufferToItsRank) {
  const int ranks = 4;
  auto group = make_in_process_group(ranks);
  std::vector<std::thread> threads;
  std::vector<int> bad(ranks, 0);
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      for (int round = 0; round < 200; ++round) {
        std::vector<std::vector<uint8_t>> send(ranks);
        for (int to = 0; to < ranks; ++to) send[static_cast<size_t>(to)].assign(static_cast<size_t>(1 + (r + to + round) % 5), static_cast<uint8_t>(16 * r + to + round));
        const auto got = group[static_cast<size_t>(r)]->all_to_all(std::move(send));
        for (int from = 0; from < ranks; ++from) {
          const auto& g = got[static_cast<size_t>(from)];
          if (g.size() != static_cast<size_t>(1 + (from + r + round) % 5) || g[0] != static_cast<uint8_t>(16 * from + r + round)) ++bad[static_cast<size_t>(r)];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) EXPECT_EQ(bad[static_cast<size_t>(r)], 0) << "rank " << r;
  EXPECT_THROW(group[0]->all_to_all({}), Error);
}

}  // namespace
}  // namespace baleen
