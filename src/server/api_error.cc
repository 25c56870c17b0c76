#include "server/api_error.h"

namespace baleen::server {

ApiError::ApiError(int status, std::string message, std::string param, std::string code)
    : Error(std::move(message)), status_(status), param_(std::move(param)), code_(std::move(code)) {}

chat::Json ApiError::body() const {
  return error_body(what(), status_ < 500 ? "invalid_request_error" : "server_error", param_, code_);
}

chat::Json ApiError::anthropic_body() const {
  return anthropic_error_body(status_, what());
}

chat::Json anthropic_error_body(int status, std::string_view message) {
  const std::string_view type = status == 401   ? "authentication_error"
                                : status == 403 ? "permission_error"
                                : status == 404 ? "not_found_error"
                                : status == 413 ? "request_too_large"
                                : status == 429 ? "rate_limit_error"
                                : status == 503 || status == 529 ? "overloaded_error"
                                : status < 500                   ? "invalid_request_error"
                                                                 : "api_error";
  return {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

chat::Json error_body(std::string_view message, std::string_view type, std::string_view param,
                      std::string_view code) {
  auto or_null = [](std::string_view s) { return s.empty() ? chat::Json() : chat::Json(s); };
  return {
      {"error", {{"message", message}, {"type", type}, {"param", or_null(param)}, {"code", or_null(code)}}}};
}

ApiError invalid_request(const Error& error) {
  const std::string_view message = error.what();
  const size_t colon = message.find(": ");
  const std::string_view head = message.substr(0, colon);
  const bool is_path = colon != std::string_view::npos && head.find(' ') == std::string_view::npos;
  return ApiError(400, std::string(message), is_path ? std::string(head) : "");
}

}  // namespace baleen::server
