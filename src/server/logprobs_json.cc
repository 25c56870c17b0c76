#include "server/logprobs_json.h"

#include <fmt/format.h>

#include <cmath>

#include "tokenizer/utf8.h"

namespace baleen::server {

using chat::Json;

double json_logprob(double logprob) {
  return std::isfinite(logprob) ? logprob : -9999.0;
}

std::string_view LogprobsJson::bytes(int32_t token) const {
  return tokenizer_.token_bytes(static_cast<uint32_t>(token));
}

std::string LogprobsJson::name(int32_t token) const {
  const std::string_view b = bytes(token);
  if (tokenizer::is_valid_utf8(b)) return std::string(b);
  std::string out = "bytes:";
  for (const char c : b) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  return out;
}

Json LogprobsJson::chat(std::span<const TokenLogprob> tokens) const {
  const auto entry = [&](int32_t token, double logprob) {
    Json byte_values = Json::array();
    for (const char c : bytes(token)) byte_values.push_back(static_cast<unsigned char>(c));
    return Json{
        {"token", name(token)}, {"logprob", json_logprob(logprob)}, {"bytes", std::move(byte_values)}};
  };
  Json content = Json::array();
  for (const TokenLogprob& t : tokens) {
    Json e = entry(t.token, t.logprob);
    e["top_logprobs"] = Json::array();
    for (const auto& [id, logprob] : t.top) e["top_logprobs"].push_back(entry(id, logprob));
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

Json LogprobsJson::text(std::span<const TokenLogprob> tokens) {
  Json out = {{"tokens", Json::array()},
              {"token_logprobs", Json::array()},
              {"top_logprobs", Json::array()},
              {"text_offset", Json::array()}};
  for (const TokenLogprob& t : tokens) {
    out["tokens"].push_back(name(t.token));
    out["token_logprobs"].push_back(json_logprob(t.logprob));
    Json top = Json::object();
    for (const auto& [id, logprob] : t.top) top[name(id)] = json_logprob(logprob);
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset_);
    offset_ += static_cast<int64_t>(bytes(t.token).size());
  }
  return out;
}

}  // namespace baleen::server
