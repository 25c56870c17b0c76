// Reading the fields of a Hugging Face tokenizer.json. Every accessor throws baleen::Error naming the
// file and the JSON path of the field (e.g. "model.merges[12]") and what was expected there.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace baleen::tokenizer {

// A JSON value with the file it came from and its path inside that file, for error messages.
struct JsonField {
  const nlohmann::json& value;
  const std::string& file;
  std::string path;

  // The member `name` of this object; Error when this is not an object or the member is missing.
  JsonField at(std::string_view name) const;
  // The member `name`, or nullptr when absent or null.
  const nlohmann::json* find(std::string_view name) const;
  // Element `i` of this array.
  JsonField at(size_t i) const;

  const nlohmann::json& object() const;
  const nlohmann::json& array() const;
  std::string string() const;
  bool boolean() const;
  uint32_t id() const;  // a non-negative integer below 2^31
  [[noreturn]] void fail_expected(std::string_view what) const;
};

}  // namespace baleen::tokenizer
