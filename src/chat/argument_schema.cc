#include "chat/argument_schema.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "chat/conversation.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool matches_type(const Json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return false;
}

// Converts text to `type` where the text spells such a value ("5" -> 5, "True" -> true); null if not.
Json from_text(std::string_view text, const std::string& type) {
  const std::string_view t = trim(text);
  if (type == "string") return Json(std::string(text));
  if (type == "boolean") {
    std::string lower(t);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  if (type == "integer" || type == "number") {
    int64_t i = 0;
    if (auto r = std::from_chars(t.data(), t.data() + t.size(), i);
        r.ec == std::errc() && r.ptr == t.data() + t.size())
      return i;
    double d = 0;
    if (auto r = std::from_chars(t.data(), t.data() + t.size(), d);
        r.ec == std::errc() && r.ptr == t.data() + t.size() && std::isfinite(d)) {
      if (type == "number") return d;
      if (d == std::trunc(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
    }
  }
  if (type == "object" || type == "array") {
    Json parsed = Json::parse(std::string(t), nullptr, false);
    if (!parsed.is_discarded() && matches_type(parsed, type)) return parsed;
  }
  return Json(Json::value_t::discarded);
}

// A string="false" value: JSON, then fitted to the schema's types where the JSON does not match them.
Json typed_value(const RawParameter& p, const std::vector<std::string>& types, ParseError* error) {
  Json parsed = Json::parse(p.value, nullptr, false);
  if (!parsed.is_discarded()) {
    if (types.empty() ||
        std::any_of(types.begin(), types.end(), [&](const auto& t) { return matches_type(parsed, t); }))
      return parsed;
    if (parsed.is_number_float() && std::count(types.begin(), types.end(), "integer")) {
      const double d = parsed.get<double>();
      if (d == std::trunc(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
    }
    for (const auto& type : types) {
      const std::string text = parsed.is_string() ? parsed.get<std::string>() : p.value;
      if (Json v = from_text(text, type); !v.is_discarded()) return v;
    }
    return parsed;  // valid JSON of another type: the model's value stands
  }
  if (!p.has_string_attr && types.empty()) return Json(p.value);
  for (const auto& type : types)
    if (Json v = from_text(p.value, type); !v.is_discarded()) return v;
  *error = ParseError{
      fmt::format("parameter \"{}\": string=\"false\" value is not valid JSON; kept as text", p.name),
      p.value};
  return Json(p.value);
}

}  // namespace

TypedArguments type_arguments(const std::vector<RawParameter>& params, const Json& function) {
  TypedArguments out;
  for (const RawParameter& p : params) {
    ParseError error;
    Json value = p.is_string ? Json(p.value) : typed_value(p, parameter_types(function, p.name), &error);
    if (!error.message.empty()) out.errors.push_back(std::move(error));
    out.arguments[p.name] = std::move(value);
  }
  if (params.size() == 1 && (params[0].name == "arguments" || params[0].name == "input") &&
      !has_parameter(function, params[0].name)) {
    const Json& only = out.arguments[params[0].name];
    Json inner = only.is_string() ? Json::parse(only.get<std::string>(), nullptr, false) : only;
    if (!inner.is_discarded() && inner.is_object()) out.arguments = std::move(inner);
  }
  return out;
}

}  // namespace baleen::chat
