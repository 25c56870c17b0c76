// The prompt dialects baleen renders and parses, and the DSML tag spellings of each: `v4` (April 2026
// encoder), `v4-0731` (July release: new reasoning-effort texts) and `v4.1` (spaced DSML tags, numeric
// effort, <｜System｜>). Parsing accepts both DSML spellings whatever the dialect.
#pragma once

#include <string>
#include <string_view>

namespace baleen::chat {

enum class Dialect { kV4, kV4_0731, kV41 };

// "v4" | "v4-0731" | "v4.1"; anything else throws baleen::Error naming the accepted values.
Dialect parse_dialect(std::string_view name);
std::string_view dialect_name(Dialect dialect);

// The tags of one DSML spelling, e.g. "<｜DSML｜tool_calls>" / "<｜DSML｜ calls>".
struct DsmlTags {
  std::string block_open;    // <｜DSML｜tool_calls>
  std::string block_close;   // </｜DSML｜tool_calls>
  std::string invoke_open;   // <｜DSML｜invoke   (attributes and '>' follow)
  std::string invoke_close;  // </｜DSML｜invoke>
  std::string param_open;    // <｜DSML｜parameter
  std::string param_close;   // </｜DSML｜parameter>
};

const DsmlTags& dsml_tags(Dialect dialect);
// The two spellings the parser recognises: [0] v4 / v4-0731, [1] v4.1.
const DsmlTags& dsml_tags_v4();
const DsmlTags& dsml_tags_v41();

}  // namespace baleen::chat
