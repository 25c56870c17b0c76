// `baleen tokenize`: JSON lines of text to ids ({"text": ...} -> {"ids": [...]}), or back with --decode.
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/command.h"
#include "core/error.h"
#include "tokenizer/deepseek_v4_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace baleen::app {
namespace {

struct TokenizeOptions {
  std::string tokenizer = tokenizer::default_tokenizer_path().string();
  std::string input;
  std::string output;
  bool decode = false;
  bool deepseek_v4 = false;
  std::string added_tokens;
};

// One output line for one input line; `where` names the line for errors.
nlohmann::json convert_line(const tokenizer::Tokenizer& tok, const TokenizeOptions& options, const std::string& line,
                            const std::string& where) {
  nlohmann::json in;
  try {
    // Invalid UTF-8 inside a JSON string is rejected by the parser; report it as such.
    const size_t bad = tokenizer::find_invalid_utf8(line);
    check(bad == std::string::npos, "{}: not valid UTF-8 (byte offset {})", where, bad);
    in = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", where, e.what());
  }
  check(in.is_object(), "{}: expected a JSON object", where);
  if (!options.decode) {
    const auto text = in.find("text");
    check(text != in.end() && text->is_string(), "{}: expected a string field \"text\"", where);
    return nlohmann::json{{"ids", tok.encode(text->get_ref<const std::string&>())}};
  }
  const auto ids = in.find("ids");
  check(ids != in.end() && ids->is_array(), "{}: expected an array field \"ids\"", where);
  std::vector<uint32_t> values;
  for (const auto& id : *ids) {
    check(id.is_number_unsigned(), "{}: field \"ids\" should hold non-negative integers, found {}", where, id.dump());
    values.push_back(id.get<uint32_t>());
  }
  try {
    return nlohmann::json{{"text", tok.decode(values)}};
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
}

void run_tokenize(const TokenizeOptions& options) {
  tokenizer::Tokenizer tok = options.deepseek_v4 ? tokenizer::load_deepseek_v4(options.tokenizer)
                                                 : tokenizer::Tokenizer::load(options.tokenizer);
  if (!options.added_tokens.empty()) tok.add_tokens(tokenizer::read_added_tokens(options.added_tokens));
  std::ifstream in(options.input, std::ios::binary);
  check(in.good(), "cannot open input file {}", options.input);
  std::ofstream out(options.output, std::ios::binary);
  check(out.good(), "cannot open output file {}", options.output);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{} line {}", options.input, number);
    out << convert_line(tok, options, line, where).dump() << '\n';
  }
  check(out.good(), "cannot write output file {}", options.output);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Encode JSON lines {\"text\"} to {\"ids\"} (or back with --decode)");
  cmd->add_option("--tokenizer", options->tokenizer, "tokenizer.json (default: the installed DeepSeek-V3 file)");
  cmd->add_option("--input", options->input, "input JSON lines")->required();
  cmd->add_option("--output", options->output, "output JSON lines")->required();
  cmd->add_flag("--decode", options->decode, "decode {\"ids\"} lines to {\"text\"}");
  cmd->add_flag("--deepseek-v4", options->deepseek_v4, "add DeepSeek-V4's special tokens to the file's");
  cmd->add_option("--added-tokens", options->added_tokens, "JSON file whose \"added_tokens\" are added to the file's");
  cmd->callback([options] { run_tokenize(*options); });
}

}  // namespace baleen::app
