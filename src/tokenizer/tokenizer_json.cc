#include "tokenizer/tokenizer_json.h"

#include <cstdint>

#include "core/error.h"

namespace baleen::tokenizer {

void JsonField::fail_expected(std::string_view what) const {
  fail("tokenizer file {}: field '{}' should be {}, found {}", file, path.empty() ? "<root>" : path, what,
       value.type_name());
}

const nlohmann::json& JsonField::object() const {
  if (!value.is_object()) fail_expected("an object");
  return value;
}

const nlohmann::json& JsonField::array() const {
  if (!value.is_array()) fail_expected("an array");
  return value;
}

JsonField JsonField::at(std::string_view name) const {
  const auto it = object().find(name);
  std::string child = path.empty() ? std::string(name) : path + "." + std::string(name);
  if (it == value.end()) fail("tokenizer file {}: missing field '{}'", file, child);
  return JsonField{*it, file, std::move(child)};
}

const nlohmann::json* JsonField::find(std::string_view name) const {
  const auto it = object().find(name);
  return it == value.end() || it->is_null() ? nullptr : &*it;
}

JsonField JsonField::at(size_t i) const {
  return JsonField{array().at(i), file, path + "[" + std::to_string(i) + "]"};
}

std::string JsonField::string() const {
  if (!value.is_string()) fail_expected("a string");
  return value.get<std::string>();
}

bool JsonField::boolean() const {
  if (!value.is_boolean()) fail_expected("a boolean");
  return value.get<bool>();
}

uint32_t JsonField::id() const {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= (int64_t{1} << 31)) {
    fail_expected("a token id (an integer in [0, 2^31))");
  }
  return static_cast<uint32_t>(value.get<int64_t>());
}

}  // namespace baleen::tokenizer
