#include "chat/render_request.h"

#include <gtest/gtest.h>

#include "chat/prompt_texts.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

std::string error_of(const std::string& request) {
  try {
    render_request_text(request);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RenderRequest, RendersAMinimalRequest) {
  EXPECT_EQ(render_request_text(R"({"messages": [{"role": "user", "content": "hi"}]})"),
            "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜></think>");
}

TEST(RenderRequest, ReadsThinkingEffortAndDialect) {
  const std::string p = render_request_text(
      R"({"messages": [{"role": "user", "content": "hi"}], "thinking": true, "reasoning_effort": 80, "dialect": "v4.1"})");
  EXPECT_EQ(
      p,
      "<｜begin▁of▁sentence｜><｜System｜>Reasoning Effort: 80 (range 1-100, the higher the value, the more "
      "thorough the reasoning)\n\n<｜User｜>hi<｜Assistant｜><think>");
}

TEST(RenderRequest, BadFieldsNameTheField) {
  EXPECT_NE(error_of("[]").find("request: expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{}").find("messages: missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "thinking": "yes"})").find("thinking: expected true or false"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "dialect": "v5"})").find("dialect: expected"), std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "reasoning_effort": "extreme", "thinking": true})")
                .find("reasoning_effort"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "reasoning_effort": 50})").find("only in v4.1"), std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "reasoning_effort": 0, "dialect": "v4.1"})").find("[1, 100]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [], "tools": {}})").find("tools: expected an array"), std::string::npos);
  EXPECT_NE(error_of("{\"messages\": [").find("request: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace baleen::chat
