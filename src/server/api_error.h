// An error a client caused or must see: HTTP status plus, in OpenAI's shape,
// {"error": {"message", "type", "param", "code"}} (Anthropic's shape on its routes). Thrown by request parsing and the handlers; the server
// turns it into the response (or, once a stream has started, into a last `data:` event).
#pragma once

#include <string>

#include "chat/python_json.h"
#include "core/error.h"

namespace baleen::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "");

  int status() const { return status_; }
  // "invalid_request_error" for 4xx, "server_error" otherwise (OpenAI's types).
  chat::Json body() const;
  // The same error in Anthropic's shape (anthropic_error_body).
  chat::Json anthropic_body() const;
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string param_, code_;
};

// OpenAI's error object; an empty param or code is written as null.
chat::Json error_body(std::string_view message, std::string_view type, std::string_view param,
                      std::string_view code);

// Anthropic's error object, {"type": "error", "error": {"type", "message"}}, its type from the status:
// invalid_request_error (400 and other 4xx), authentication_error (401), permission_error (403),
// not_found_error (404), request_too_large (413), rate_limit_error (429), overloaded_error (503, 529),
// api_error (other 5xx).
chat::Json anthropic_error_body(int status, std::string_view message);

// A 400 from a baleen::Error of a lower layer; its message's leading field path ("messages[2].role: ...")
// becomes `param`.
ApiError invalid_request(const Error& error);

}  // namespace baleen::server
