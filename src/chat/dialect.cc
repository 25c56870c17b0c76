#include "chat/dialect.h"

#include "chat/prompt_texts.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

DsmlTags make_tags(std::string_view block, std::string_view invoke, std::string_view parameter) {
  const std::string dsml(text::kDsml);
  return DsmlTags{
      .block_open = "<" + dsml + std::string(block) + ">",
      .block_close = "</" + dsml + std::string(block) + ">",
      .invoke_open = "<" + dsml + std::string(invoke),
      .invoke_close = "</" + dsml + std::string(invoke) + ">",
      .param_open = "<" + dsml + std::string(parameter),
      .param_close = "</" + dsml + std::string(parameter) + ">",
  };
}

}  // namespace

Dialect parse_dialect(std::string_view name) {
  if (name == "v4") return Dialect::kV4;
  if (name == "v4-0731") return Dialect::kV4_0731;
  if (name == "v4.1") return Dialect::kV41;
  fail("dialect: expected \"v4\", \"v4-0731\" or \"v4.1\", got \"{}\"", name);
}

std::string_view dialect_name(Dialect dialect) {
  switch (dialect) {
    case Dialect::kV4:
      return "v4";
    case Dialect::kV4_0731:
      return "v4-0731";
    case Dialect::kV41:
      return "v4.1";
  }
  return "?";
}

const DsmlTags& dsml_tags_v4() {
  static const DsmlTags tags = make_tags("tool_calls", "invoke", "parameter");
  return tags;
}

const DsmlTags& dsml_tags_v41() {
  static const DsmlTags tags = make_tags(" calls", " invoke", " parameter");
  return tags;
}

const DsmlTags& dsml_tags(Dialect dialect) {
  return dialect == Dialect::kV41 ? dsml_tags_v41() : dsml_tags_v4();
}

}  // namespace baleen::chat
