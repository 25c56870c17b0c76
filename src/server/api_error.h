// An error a client caused or must see, in OpenAI's shape: HTTP status plus
// {"error": {"message", "type", "param", "code"}}. Thrown by request parsing and the handlers; the server
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

 private:
  int status_;
  std::string param_, code_;
};

// OpenAI's error object; an empty param or code is written as null.
chat::Json error_body(std::string_view message, std::string_view type, std::string_view param,
                      std::string_view code);

// A 400 from a baleen::Error of a lower layer; its message's leading field path ("messages[2].role: ...")
// becomes `param`.
ApiError invalid_request(const Error& error);

}  // namespace baleen::server
