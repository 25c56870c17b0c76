#include "server/request_fields.h"

#include <algorithm>

#include "chat/conversation.h"
#include "chat/tool_call_grammar.h"
#include "tokenizer/utf8.h"

namespace baleen::server {

using chat::Json;

std::string field_path(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

const Json* field(const Json& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool bool_field(const Json& object, std::string_view key, bool fallback, std::string_view where) {
  const Json* v = field(object, key);
  if (!v) return fallback;
  const std::string path = field_path(where, key);
  if (!v->is_boolean()) reject(path, "{}: expected true or false, got {}", path, v->type_name());
  return v->get<bool>();
}

std::optional<double> number_field(const Json& object, std::string_view key, double lo, double hi,
                                   std::string_view where) {
  const Json* v = field(object, key);
  if (!v) return std::nullopt;
  const std::string path = field_path(where, key);
  if (!v->is_number()) reject(path, "{}: expected a number, got {}", path, v->type_name());
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) reject(path, "{}: must be in [{}, {}], got {}", path, lo, hi, x);
  return x;
}

std::optional<int64_t> int_field(const Json& object, std::string_view key, std::string_view where) {
  const Json* v = field(object, key);
  if (!v) return std::nullopt;
  const std::string path = field_path(where, key);
  if (!v->is_number_integer()) reject(path, "{}: expected an integer, got {}", path, v->type_name());
  return v->get<int64_t>();
}

std::optional<std::string> string_field(const Json& object, std::string_view key, std::string_view where) {
  const Json* v = field(object, key);
  if (!v) return std::nullopt;
  const std::string path = field_path(where, key);
  if (!v->is_string()) reject(path, "{}: expected a string, got {}", path, v->type_name());
  return v->get<std::string>();
}

void read_sampling(const Json& body, SamplingParams& sampling) {
  if (auto t = number_field(body, "temperature", 0.0, 2.0)) sampling.temperature = static_cast<float>(*t);
  if (auto p = number_field(body, "top_p", 0.0, 1.0)) sampling.top_p = static_cast<float>(*p);
  if (auto k = int_field(body, "top_k")) {
    if (*k < 0) reject("top_k", "top_k: must be >= 0, got {}", *k);
    sampling.top_k = *k;
  }
  if (auto s = int_field(body, "seed")) sampling.seed = static_cast<uint64_t>(*s);
  try {
    Sampler check_params(sampling);
  } catch (const Error& e) {
    throw invalid_request(e);
  }
}

std::vector<std::string> stop_sequences(const Json& body) {
  const Json* stop = field(body, "stop");
  if (!stop) return {};
  if (stop->is_string()) return {stop->get<std::string>()};
  if (!stop->is_array()) reject("stop", "stop: expected a string or an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < stop->size(); ++i) {
    if (!(*stop)[i].is_string()) reject(fmt::format("stop[{}]", i), "stop[{}]: expected a string", i);
    out.push_back((*stop)[i].get<std::string>());
  }
  return out;
}

int64_t choices_field(const Json& body) {
  if (const Json* user = field(body, "user"); user && !user->is_string())
    reject("user", "user: expected a string, got {}", user->type_name());
  const int64_t n = int_field(body, "n").value_or(1);
  if (n < 1 || n > 128) reject("n", "n: must be in [1, 128], got {}", n);
  return n;
}

void read_penalties(const Json& body, Penalties& penalties) {
  if (auto x = number_field(body, "presence_penalty", -2.0, 2.0)) penalties.presence = *x;
  if (auto x = number_field(body, "frequency_penalty", -2.0, 2.0)) penalties.frequency = *x;
}

std::string v4_effort(std::string_view level, std::string_view param) {
  if (level == "low" || level == "minimal") return "low";
  if (level == "medium" || level == "high") return "high";
  if (level == "xhigh" || level == "max") return "max";
  reject(std::string(param), "{}: expected low, medium, high, xhigh or max, got \"{}\"", param, level);
}

void check_known_keys(const Json& object, std::span<const std::string_view> known, std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string path = field_path(where, key);
      throw ApiError(400, fmt::format("Unrecognized request argument supplied: {}", path), path,
                     "unknown_parameter");
    }
  }
}

Json parse_body(std::string_view body, std::span<const std::string_view> known) {
  if (const size_t bad = tokenizer::find_invalid_utf8(body); bad != std::string_view::npos)
    reject("", "request body is not valid UTF-8 (bad byte at offset {})", bad);
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::exception& e) {
    reject("", "request body is not valid JSON: {}", e.what());
  }
  if (!json.is_object()) reject("", "request body: expected a JSON object, got {}", json.type_name());
  check_known_keys(json, known, "");
  return json;
}

void force_tool_call(const Json& tools, bool parallel, std::string_view param, session::TurnOptions& turn) {
  const std::string at(param);
  if (!tools.is_array() || tools.empty()) reject(at, "{}: forcing a tool call needs tools", at);
  try {  // the grammar refuses tools it cannot spell: refused here, before the turn starts
    chat::ToolCallGrammar(chat::dsml_tags(turn.render.dialect), chat::tool_functions_from_json(tools, "tools"),
                          parallel, turn.render.thinking);
  } catch (const Error& e) {
    reject(at, "{}: {}", at, e.what());
  }
  turn.forced_tools = tools;
  turn.parallel_tool_calls = parallel;
}

}  // namespace baleen::server
