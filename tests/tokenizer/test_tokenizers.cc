#include "test_tokenizers.h"

#include <fstream>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/deepseek_v4_tokens.h"
#include "tokenizer/utf8.h"

namespace baleen::tokenizer::testing {

const Tokenizer* installed_v4_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = []() -> std::unique_ptr<Tokenizer> {
    if (!std::filesystem::exists(default_tokenizer_path())) return nullptr;
    return std::make_unique<Tokenizer>(load_deepseek_v4(default_tokenizer_path()));
  }();
  return tokenizer.get();
}

std::string tiny_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes_to_byte_level(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab[bytes_to_byte_level(" a")] = 258;
  vocab["xy"] = 259;
  const nlohmann::json merges = {"a b", "ab c", bytes_to_byte_level(" ") + " a", "x y"};
  const auto split = [](const char* regex) {
    return nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  const nlohmann::json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {split("\\p{N}{1,3}"), split("[一-龥\u3040-ゟ゠-ヿ]+"),
        split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
              "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  const auto added = [](uint32_t id, const char* content, bool special) {
    return nlohmann::json{{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", false},
                          {"rstrip", false}, {"normalized", !special}, {"special", special}};
  };
  const nlohmann::json root = {
      {"version", "1.0"},
      {"added_tokens", {added(300, "<s>", true), added(301, "<｜U｜>", false)}},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", nlohmann::json::array()}}},
      {"pre_tokenizer", pre},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", merges}}}};
  return root.dump();
}

std::filesystem::path write_temp_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "baleen_tokenizer_tests";
  std::filesystem::create_directories(dir);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto path = dir / (std::string(info ? info->name() : "x") + "_" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string random_text(std::mt19937& rng, size_t max_chars) {
  static const std::vector<char32_t> tricky = {
      0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x20, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x200B, 0x200D, 0x2028,
      0x202F, 0x3000, 0xFEFF, 0x4E00, 0x9FA5, 0x9FA6, 0x3042, 0x30A2, 0x0300, 0x0301, 0xFE0F, 0x1F3FB,
      0x1F469, 0x1F600, 0x0660, 0x0966, 0xFF10, 0x00B2, 0x2160, 0x31350, 0x1CC00, 0x10FFFF, 0xE000, 0xFFFD};
  static const std::vector<std::string> specials = {"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
                                                    "｜DSML｜", "<｜begin▁of▁sentence｜>", "<dsml:", "<｜"};
  std::uniform_int_distribution<size_t> length(0, max_chars);
  std::uniform_int_distribution<int> kind(0, 99);
  std::string text;
  const size_t n = length(rng);
  for (size_t i = 0; i < n; ++i) {
    const int k = kind(rng);
    char32_t cp;
    if (k < 2) {
      text += specials[rng() % specials.size()];
      continue;
    } else if (k < 45) {
      cp = 0x20 + rng() % 95;
    } else if (k < 65) {
      cp = tricky[rng() % tricky.size()];
    } else if (k < 85) {
      cp = 0x80 + rng() % (0x10000 - 0x80);
    } else {
      cp = 0x10000 + rng() % (0x110000 - 0x10000);
    }
    if (cp >= 0xD800 && cp < 0xE000) cp = 'a';
    append_utf8(text, cp);
  }
  return text;
}

}  // namespace baleen::tokenizer::testing
