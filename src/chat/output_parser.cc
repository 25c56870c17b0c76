#include "chat/output_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "chat/prompt_texts.h"

namespace baleen::chat {
namespace {

struct Marker {
  enum class Kind { kThinkEnd, kBlockV4, kBlockV41, kEos };
  Kind kind;
  std::string text;
  std::string with_newlines;  // "\n\n" + text for block openers (held back together), else empty
};

const std::array<Marker, 4>& markers() {
  static const std::array<Marker, 4> all{
      Marker{Marker::Kind::kThinkEnd, std::string(text::kThinkEnd), ""},
      Marker{Marker::Kind::kBlockV4, dsml_tags_v4().block_open, "\n\n" + dsml_tags_v4().block_open},
      Marker{Marker::Kind::kBlockV41, dsml_tags_v41().block_open, "\n\n" + dsml_tags_v41().block_open},
      Marker{Marker::Kind::kEos, std::string(text::kEos), ""}};
  return all;
}

// Length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t partial_suffix(std::string_view s, std::string_view marker) {
  for (size_t k = std::min(s.size(), marker.size() - 1); k > 0; --k)
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  return 0;
}

// How many trailing bytes of `s` may be the start of a marker: markers themselves, and a block opener
// with the "\n\n" the encoder puts before it (stripped as an exact suffix, never as a character set).
size_t held_back(std::string_view s, bool in_reasoning) {
  size_t hold = 0;
  for (const Marker& m : markers()) {
    if (m.kind == Marker::Kind::kThinkEnd && !in_reasoning) continue;
    hold = std::max(hold, partial_suffix(s, m.text));
    if (!m.with_newlines.empty()) hold = std::max(hold, partial_suffix(s, m.with_newlines));
  }
  return hold;
}

// Moves `end` back so that s[0:end] does not stop inside a UTF-8 sequence that may still complete.
size_t utf8_boundary(std::string_view s, size_t end) {
  for (size_t back = 1; back <= 3 && back <= end; ++back) {
    const auto c = static_cast<unsigned char>(s[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? end - back : end;
  }
  return end;
}

bool all_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

const Json& find_function(const Json& tools, const std::string& name) {
  static const Json kNull;
  if (!tools.is_array()) return kNull;
  for (const Json& f : tools)
    if (f.value("name", "") == name) return f;
  return kNull;
}

ParseEvent error_event(std::string message, std::string raw) {
  ParseEvent e;
  e.kind = ParseEvent::Kind::kError;
  e.error = ParseError{std::move(message), std::move(raw)};
  return e;
}

}  // namespace

std::string tool_call_id(uint64_t seed, size_t index) {
  // splitmix64 over seed + golden * (index + 1): a bijection of the index for a fixed seed, so ids of one
  // output never collide.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (static_cast<uint64_t>(index) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return fmt::format("call_{:016x}", z);
}

OutputParser::OutputParser(ParserOptions options)
    : options_(std::move(options)),
      state_(options_.starts_in_reasoning ? State::kReasoning : State::kContent) {
  if (!options_.tools.is_null()) options_.tools = tool_functions_from_json(options_.tools, "tools");
}

OutputParser::~OutputParser() = default;

std::vector<ParseEvent> OutputParser::feed(std::string_view chunk) {
  std::vector<ParseEvent> out;
  buf_ += chunk;
  advance(false, out);
  return out;
}

std::vector<ParseEvent> OutputParser::finish() {
  std::vector<ParseEvent> out;
  advance(true, out);
  return out;
}

void OutputParser::advance(bool at_end, std::vector<ParseEvent>& out) {
  for (;;) {
    bool progressed = false;
    switch (state_) {
      case State::kReasoning:
      case State::kContent:
        progressed = advance_text(at_end, out);
        break;
      case State::kBlock:
        progressed = advance_block(at_end, out);
        break;
      case State::kAfterBlock:
        progressed = advance_after_block(at_end, out);
        break;
      case State::kDone:
        if (at_end && !all_space(buf_)) out.push_back(error_event("text after the end of sentence", buf_));
        if (at_end) buf_.clear();
        return;
    }
    if (!progressed) return;
  }
}

void OutputParser::emit_text(std::string_view text, std::vector<ParseEvent>& out) {
  if (text.empty()) return;
  const auto kind = state_ == State::kReasoning ? ParseEvent::Kind::kReasoning : ParseEvent::Kind::kContent;
  ParseEvent& e = out.emplace_back();
  e.kind = kind;
  e.text = text;
}

// Reasoning or content: up to the first marker. A block opener also ends reasoning (models skip
// "</think>"); the "\n\n" before an opener belongs to the block, not to the text.
bool OutputParser::advance_text(bool at_end, std::vector<ParseEvent>& out) {
  const bool reasoning = state_ == State::kReasoning;
  size_t best = std::string::npos;
  const Marker* hit = nullptr;
  for (const Marker& m : markers()) {
    if (m.kind == Marker::Kind::kThinkEnd && !reasoning) continue;
    const size_t p = buf_.find(m.text);
    if (p < best) {
      best = p;
      hit = &m;
    }
  }
  if (hit == nullptr) {
    size_t safe = buf_.size();
    if (!at_end) safe = utf8_boundary(buf_, safe - held_back(buf_, reasoning));
    emit_text(std::string_view(buf_).substr(0, safe), out);
    buf_.erase(0, safe);
    return false;
  }
  std::string_view before = std::string_view(buf_).substr(0, best);
  const bool opens_block = hit->kind == Marker::Kind::kBlockV4 || hit->kind == Marker::Kind::kBlockV41;
  if (opens_block && before.ends_with("\n\n")) before.remove_suffix(2);
  emit_text(before, out);
  const std::string rest = buf_.substr(best + hit->text.size());
  switch (hit->kind) {
    case Marker::Kind::kThinkEnd:
      state_ = State::kContent;
      break;
    case Marker::Kind::kEos:
      state_ = State::kDone;
      break;
    default:
      state_ = State::kBlock;
      block_ = std::make_unique<DsmlBlockParser>(
          hit->kind == Marker::Kind::kBlockV4 ? dsml_tags_v4() : dsml_tags_v41(), hit->text);
  }
  buf_ = rest;
  return true;
}

bool OutputParser::advance_block(bool at_end, std::vector<ParseEvent>& out) {
  std::vector<BlockItem> items;
  block_->feed(buf_, items);
  buf_.clear();
  if (at_end) block_->finish(items);
  emit_items(items, out);
  if (!block_->ended()) return false;
  state_ = block_->ended_by_eos() ? State::kDone : State::kAfterBlock;
  scanned_ = 0;
  buf_ = block_->take_rest();
  block_.reset();
  return true;
}

// After a closed block only the end of sentence is expected; other text is not interpreted again and is
// returned as an error so nothing is lost.
bool OutputParser::advance_after_block(bool at_end, std::vector<ParseEvent>& out) {
  // Resume the search where a marker could still start, so long trailing text stays linear.
  const size_t from = scanned_ >= text::kEos.size() ? scanned_ - text::kEos.size() + 1 : 0;
  const size_t eos = buf_.find(text::kEos, from);
  scanned_ = buf_.size();
  if (eos == std::string::npos && !at_end) return false;
  const std::string trailing = buf_.substr(0, eos);
  if (!all_space(trailing))
    out.push_back(error_event("text after the tool_calls block is not interpreted", trailing));
  buf_ = eos == std::string::npos ? std::string() : buf_.substr(eos + text::kEos.size());
  state_ = State::kDone;
  return true;
}

void OutputParser::emit_items(std::vector<BlockItem>& items, std::vector<ParseEvent>& out) {
  for (BlockItem& item : items) {
    if (item.is_error) {
      out.push_back(error_event(std::move(item.error.message), std::move(item.error.raw)));
      continue;
    }
    TypedArguments typed = type_arguments(item.params, find_function(options_.tools, item.name));
    ParseEvent& e = out.emplace_back();
    e.kind = ParseEvent::Kind::kToolCall;
    e.call = ToolCall{tool_call_id(options_.id_seed, calls_++), item.name, std::move(typed.arguments)};
    for (ParseError& error : typed.errors)
      out.push_back(error_event(std::move(error.message), std::move(error.raw)));
  }
}

std::vector<ParseEvent> coalesce(const std::vector<ParseEvent>& events) {
  std::vector<ParseEvent> out;
  for (const ParseEvent& e : events) {
    const bool text = e.kind == ParseEvent::Kind::kReasoning || e.kind == ParseEvent::Kind::kContent;
    if (text && !out.empty() && out.back().kind == e.kind) {
      out.back().text += e.text;
    } else {
      out.push_back(e);
    }
  }
  return out;
}

void collect(const std::vector<ParseEvent>& events, ParsedOutput& into) {
  for (const ParseEvent& e : events) {
    switch (e.kind) {
      case ParseEvent::Kind::kReasoning:
        into.reasoning += e.text;
        break;
      case ParseEvent::Kind::kContent:
        into.content += e.text;
        break;
      case ParseEvent::Kind::kToolCall:
        into.tool_calls.push_back(e.call);
        break;
      case ParseEvent::Kind::kError:
        into.errors.push_back(e.error);
        break;
    }
  }
}

ParsedOutput parse_output(std::string_view text, const ParserOptions& options) {
  OutputParser parser(options);
  ParsedOutput result;
  collect(parser.feed(text), result);
  collect(parser.finish(), result);
  return result;
}

Json parsed_output_json(const ParsedOutput& parsed) {
  Json calls = Json::array();
  for (const ToolCall& c : parsed.tool_calls)
    calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  Json errors = Json::array();
  for (const ParseError& e : parsed.errors) errors.push_back({{"message", e.message}, {"raw", e.raw}});
  return {{"reasoning", parsed.reasoning},
          {"content", parsed.content},
          {"tool_calls", calls},
          {"errors", errors}};
}

}  // namespace baleen::chat
