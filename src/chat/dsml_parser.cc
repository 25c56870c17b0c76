#include "chat/dsml_parser.h"

#include <algorithm>
#include <optional>

#include "chat/prompt_texts.h"

namespace baleen::chat {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

bool all_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_space);
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// `name="VALUE"` at the start of `s` (after whitespace); the rest of `s` is left in `s`.
std::optional<std::string> take_attribute(std::string_view& s, std::string_view key, bool to_last_quote) {
  s = trim_left(s);
  const std::string prefix = std::string(key) + "=\"";
  if (!s.starts_with(prefix)) return std::nullopt;
  s.remove_prefix(prefix.size());
  const size_t close = to_last_quote ? s.rfind('"') : s.find('"');
  if (close == std::string_view::npos) return std::nullopt;
  std::string value(s.substr(0, close));
  s.remove_prefix(close + 1);
  return value;
}

// The attributes of an invoke tag, ` name="NAME"` (the reference: ^\s*name="(.*?)">\n$).
std::optional<std::string> parse_invoke_header(std::string_view header) {
  auto name = take_attribute(header, "name", /*to_last_quote=*/true);
  if (!name || !all_space(header)) return std::nullopt;
  return name;
}

// The attributes of a parameter tag, ` name="KEY" string="true|false"`; a missing string attribute is
// tolerated (the value is then typed by the schema).
bool parse_param_header(std::string_view header, RawParameter& p) {
  auto name = take_attribute(header, "name", /*to_last_quote=*/false);
  if (!name) return false;
  p.name = std::move(*name);
  if (all_space(header)) {
    p.has_string_attr = false;
    return true;
  }
  auto flag = take_attribute(header, "string", false);
  if (!flag || (*flag != "true" && *flag != "false") || !all_space(header)) return false;
  p.is_string = *flag == "true";
  return true;
}

BlockItem error_item(std::string message, std::string raw) {
  BlockItem item;
  item.is_error = true;
  item.error = ParseError{std::move(message), std::move(raw)};
  return item;
}

}  // namespace

DsmlBlockParser::DsmlBlockParser(const DsmlTags& tags, std::string_view opener)
    : tags_(tags), buf_(opener), pos_(opener.size()), resume_(opener.size()) {}

void DsmlBlockParser::feed(std::string_view text, std::vector<BlockItem>& out) {
  if (ended_) {
    rest_ += text;
    return;
  }
  buf_ += text;
  while (!ended_ && step(out)) {
  }
}

std::string DsmlBlockParser::take_rest() {
  return std::exchange(rest_, {});
}

void DsmlBlockParser::finish(std::vector<BlockItem>& out) {
  if (ended_) return;
  fail_open_block(buf_.size(), "tool_calls block not closed when the output ended", out);
}

void DsmlBlockParser::fail_open_block(size_t end, std::string_view message, std::vector<BlockItem>& out) {
  out.push_back(error_item(std::string(message), buf_.substr(consumed_, end - consumed_)));
  consumed_ = end;
  ended_ = true;
}

DsmlBlockParser::Hit DsmlBlockParser::find_first(std::initializer_list<std::string_view> markers) {
  Hit best;
  size_t longest = 0;
  size_t i = 0;
  for (std::string_view m : markers) {
    const size_t p = buf_.find(m, resume_);
    if (p < best.pos) best = Hit{p, i};
    longest = std::max(longest, m.size());
    ++i;
  }
  // Nothing complete yet: a later search need not rescan what cannot start a marker.
  if (best.pos == std::string::npos && buf_.size() >= longest)
    resume_ = std::max(resume_, buf_.size() - longest + 1);
  return best;
}

void DsmlBlockParser::move_to(State state, size_t pos) {
  state_ = state;
  pos_ = pos;
  resume_ = pos;
}

bool DsmlBlockParser::step(std::vector<BlockItem>& out) {
  switch (state_) {
    case State::kBetween:
      return step_between(out);
    case State::kInvokeBody:
      return step_invoke_body(out);
    case State::kInvokeHeader:
    case State::kParamHeader:
      return step_header();
    case State::kParamValue:
      return step_param_value();
  }
  return false;
}

bool DsmlBlockParser::step_between(std::vector<BlockItem>& out) {
  const Hit hit = find_first({tags_.invoke_open, tags_.block_close, text::kEos});
  if (hit.pos == std::string::npos) return false;
  if (hit.which == 2) {  // end of sentence inside the block: report all text since the last item
    fail_open_block(hit.pos, "tool_calls block not closed before the end of sentence", out);
    ended_by_eos_ = true;
    rest_ = buf_.substr(hit.pos + text::kEos.size());
    return false;
  }
  const std::string_view gap = std::string_view(buf_).substr(pos_, hit.pos - pos_);
  if (!all_space(gap)) {
    out.push_back(error_item("unexpected text between tool calls", std::string(gap)));
    consumed_ = hit.pos;
  }
  if (hit.which == 1) {
    consumed_ = hit.pos + tags_.block_close.size();
    ended_ = true;
    rest_ = buf_.substr(consumed_);
    return false;
  }
  invoke_start_ = hit.pos;
  invoke_ = BlockItem{};
  malformed_.clear();
  move_to(State::kInvokeHeader, hit.pos + tags_.invoke_open.size());
  return true;
}

bool DsmlBlockParser::step_header() {
  const Hit hit = find_first({">", text::kEos});
  if (hit.pos == std::string::npos) return false;
  if (hit.which == 1) {
    move_to(State::kBetween, hit.pos);
    return true;
  }
  const std::string_view header = std::string_view(buf_).substr(pos_, hit.pos - pos_);
  if (state_ == State::kInvokeHeader) {
    if (auto name = parse_invoke_header(header)) {
      invoke_.name = std::move(*name);
    } else {
      malformed_ = "invoke tag without a valid name=\"...\" attribute";
    }
    move_to(State::kInvokeBody, hit.pos + 1);
    return true;
  }
  param_ = RawParameter{};
  if (!parse_param_header(header, param_) && malformed_.empty())
    malformed_ = "parameter tag without valid name=\"...\" string=\"true|false\" attributes";
  value_start_ = hit.pos + 1;
  move_to(State::kParamValue, value_start_);
  return true;
}

bool DsmlBlockParser::step_param_value() {
  const Hit hit = find_first({tags_.param_close, text::kEos});
  if (hit.pos == std::string::npos) return false;
  if (hit.which == 1) {
    move_to(State::kBetween, hit.pos);
    return true;
  }
  param_.value = buf_.substr(value_start_, hit.pos - value_start_);
  const bool duplicate = std::any_of(invoke_.params.begin(), invoke_.params.end(),
                                     [&](const RawParameter& p) { return p.name == param_.name; });
  if (duplicate && malformed_.empty()) malformed_ = "duplicate parameter \"" + param_.name + "\"";
  invoke_.params.push_back(std::move(param_));
  move_to(State::kInvokeBody, hit.pos + tags_.param_close.size());
  return true;
}

bool DsmlBlockParser::step_invoke_body(std::vector<BlockItem>& out) {
  const Hit hit = find_first({tags_.param_open, tags_.invoke_close, tags_.block_close, text::kEos});
  if (hit.pos == std::string::npos) return false;
  if (!all_space(std::string_view(buf_).substr(pos_, hit.pos - pos_)) && malformed_.empty())
    malformed_ = "unexpected text inside an invoke";
  switch (hit.which) {
    case 0:
      move_to(State::kParamHeader, hit.pos + tags_.param_open.size());
      return true;
    case 1: {
      const size_t end = hit.pos + tags_.invoke_close.size();
      std::string raw = buf_.substr(invoke_start_, end - invoke_start_);
      if (malformed_.empty()) {
        out.push_back(std::move(invoke_));
      } else {
        out.push_back(error_item(malformed_, std::move(raw)));
      }
      consumed_ = end;
      move_to(State::kBetween, end);
      return true;
    }
    case 2:  // the block closes around an unclosed invoke
      out.push_back(error_item("invoke not closed before the end of the tool_calls block",
                               buf_.substr(invoke_start_, hit.pos - invoke_start_)));
      consumed_ = hit.pos;
      move_to(State::kBetween, hit.pos);
      return true;
    default:  // end of sentence: the open block reports everything since the last item
      move_to(State::kBetween, hit.pos);
      return true;
  }
}

}  // namespace baleen::chat
