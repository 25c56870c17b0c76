#include "tokenizer/tokenizer.h"

#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_tokenizers.h"

namespace baleen::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Tokenizer, TinyFileEncodesByMergeRank) {
  const Tokenizer tok = Tokenizer::load(testing::write_temp_file("tiny.json", testing::tiny_tokenizer_json()));
  EXPECT_EQ(tok.encode("abc"), (Ids{257}));
  EXPECT_EQ(tok.encode("abd"), (Ids{256, 'd'}));
  EXPECT_EQ(tok.encode("x a"), (Ids{'x', 258}));
  EXPECT_EQ(tok.encode("xy<s>ab<｜U｜>"), (Ids{259, 300, 256, 301}));
  EXPECT_EQ(tok.decode(Ids{259, 300, 256, 301}), "xy<s>ab<｜U｜>");
  EXPECT_EQ(tok.decode(Ids{259, 300, 256, 301}, {.skip_special = true}), "xyab<｜U｜>");
  EXPECT_EQ(tok.token_id("<s>"), 300u);
  EXPECT_EQ(tok.token_id("abc"), 257u);
  EXPECT_TRUE(tok.is_special(300));
  EXPECT_FALSE(tok.is_special(301));
}

TEST(Tokenizer, EncodesHandCheckedStringsLikeHuggingFace) {
  const Tokenizer* tok = testing::installed_v4_tokenizer();
  if (tok == nullptr) GTEST_SKIP() << "tokenizer not installed at " << default_tokenizer_path() << " (scripts/setup.sh)";
  // Ids from HF tokenizers 0.23 on DeepSeek-V3's tokenizer.json; the first two are public V4 test vectors.
  const std::vector<std::pair<std::string, Ids>> cases = {
      {"Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ",
       {19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100, 76032, 1628,
        76589, 131, 108, 76589, 131, 98}},
      {"<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>",
       {128803, 30594, 128804, 128821, 36101, 128822, 7624, 1}},
      {"12345678", {6895, 18009, 2597}},
      {"def f(x):\r\n\treturn x  # ok\n", {3465, 285, 4042, 2605, 204, 201, 5562, 1527, 223, 1823, 9109, 201}},
      {"👩‍👩‍👧 👍🏽!", {25730, 105, 46088, 25730, 105, 46088, 25730, 103, 102527, 40965, 124, 3}},
      {"こんにちは世界カタカナ漢字", {4549, 7245, 2298, 12457, 2841, 3427, 15961, 11767, 15961, 27071, 29069, 2024}},
      {"a \u180e b", {67, 223, 115522, 239, 291}},
      {"a\u0085b  \u00a0 c\u3000d", {67, 129, 230, 68, 262, 2162, 274, 18524, 70}},
      {"مرحبا بالعالم", {10393, 2212, 53067, 9254, 1183, 14059}},
      {"नमस्ते दुनिया", {9094, 12524, 70223, 6011, 26227, 101422, 85639}},
      {"", {}},
  };
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ(tok->encode(text), ids) << text;
    EXPECT_EQ(tok->decode(ids), text);
  }
}

TEST(Tokenizer, DecodeInvertsEncodeOnRandomText) {
  const Tokenizer* tok = testing::installed_v4_tokenizer();
  if (tok == nullptr) GTEST_SKIP() << "tokenizer not installed at " << default_tokenizer_path() << " (scripts/setup.sh)";
  std::mt19937 rng(3);
  for (int trial = 0; trial < 3000; ++trial) {
    const std::string text = testing::random_text(rng, 200);
    ASSERT_EQ(tok->decode(tok->encode(text)), text) << "trial " << trial;
  }
}

TEST(Tokenizer, DecodeReplacesBrokenUtf8AndRejectsUnknownIds) {
  const Tokenizer tok = Tokenizer::load(testing::write_temp_file("tiny.json", testing::tiny_tokenizer_json()));
  EXPECT_EQ(tok.decode(Ids{'a', 0xF0, 0x9F, 'b'}), "a\xEF\xBF\xBD" "b");
  EXPECT_NE(error_of([&] { tok.decode(Ids{260}); }).find("token id 260 is not defined"), std::string::npos);
  EXPECT_NE(error_of([&] { tok.decode(Ids{1u << 30}); }).find("not defined"), std::string::npos);
}

TEST(Tokenizer, EncodeRejectsInvalidUtf8NamingTheOffset) {
  const Tokenizer tok = Tokenizer::load(testing::write_temp_file("tiny.json", testing::tiny_tokenizer_json()));
  EXPECT_NE(error_of([&] { tok.encode("abc\xC3("); }).find("offset 3"), std::string::npos);
}

TEST(Tokenizer, LoadErrorsNameTheFileAndField) {
  const auto missing = std::filesystem::temp_directory_path() / "baleen_no_such_dir" / "tokenizer.json";
  EXPECT_NE(error_of([&] { Tokenizer::load(missing); }).find(missing.string() + ": cannot open"), std::string::npos);

  const auto not_json = testing::write_temp_file("bad.json", "{\"model\": [1, 2");
  EXPECT_NE(error_of([&] { Tokenizer::load(not_json); }).find(not_json.string() + ": not valid JSON"), std::string::npos);

  const auto with_change = [](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json json = nlohmann::json::parse(testing::tiny_tokenizer_json());
    change(json);
    const auto path = testing::write_temp_file("changed.json", json.dump());
    return error_of([&] { Tokenizer::load(path); });
  };
  EXPECT_NE(with_change([](auto& j) { j["model"].erase("merges"); }).find("missing field 'model.merges'"), std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["model"]["merges"][1] = "abc"; }).find("'model.merges[1]'"), std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["model"]["merges"][0] = "a q"; }).find("'model.merges[0]'"), std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["model"]["vocab"]["ab"] = -4; }).find("'model.vocab.ab'"), std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["added_tokens"][0].erase("special"); }).find("'added_tokens[0].special'"),
            std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["model"]["type"] = "Unigram"; }).find("not implemented: model type"),
            std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; })
                .find("'pre_tokenizer.pretokenizers[0]': not implemented: Split behavior"),
            std::string::npos);
  EXPECT_NE(with_change([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; })
                .find("regex does not compile"),
            std::string::npos);
}

TEST(Tokenizer, AddTokensRefusesConflicts) {
  Tokenizer tok = Tokenizer::load(testing::write_temp_file("tiny.json", testing::tiny_tokenizer_json()));
  const AddedToken same{"<s>", 300, true, false, false, false};
  tok.add_tokens(std::span(&same, 1));  // already there with the same id: fine
  const AddedToken moved{"<s>", 305, true, false, false, false};
  EXPECT_THROW(tok.add_tokens(std::span(&moved, 1)), Error);
  const AddedToken taken{"<new>", 256, true, false, false, false};
  EXPECT_THROW(tok.add_tokens(std::span(&taken, 1)), Error);
  const AddedToken fresh{"<new>", 400, false, false, false, true};
  tok.add_tokens(std::span(&fresh, 1));
  EXPECT_EQ(tok.encode("a<new>b"), (Ids{'a', 400, 'b'}));
  EXPECT_EQ(tok.size(), 401u);
}

}  // namespace
}  // namespace baleen::tokenizer
