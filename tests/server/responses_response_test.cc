// The Responses stream a ResponseBuilder writes for a reasoning item, with and without a summary asked:
// the summary events sit inside the item, after their reasoning_text twins, and the item's summary is its
// reasoning text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/responses_response.h"

namespace baleen::server {
namespace {

using chat::Json;

std::vector<Json> events_of(const std::string& sse) {
  std::vector<Json> out;
  for (size_t at = 0; (at = sse.find("data: ", at)) != std::string::npos;) {
    const size_t end = sse.find("\n\n", at);
    out.push_back(Json::parse(sse.substr(at + 6, end - at - 6)));
    at = end;
  }
  return out;
}

chat::ParseEvent text_event(chat::ParseEvent::Kind kind, std::string text) {
  chat::ParseEvent e;
  e.kind = kind;
  e.text = std::move(text);
  return e;
}

ResponseMeta meta_named(std::string id) {
  ResponseMeta meta;
  meta.id = std::move(id);
  meta.model = "m";
  meta.echo = Json::object();
  return meta;
}

std::vector<Json> stream(ResponseBuilder& builder) {
  using Kind = chat::ParseEvent::Kind;
  std::string sse = builder.begin();
  for (const char* piece : {"Let me ", "think."}) sse += builder.event(text_event(Kind::kReasoning, piece));
  sse += builder.event(text_event(Kind::kContent, "Hello."));
  session::TurnResult result;
  result.reasoning = "Let me think.";
  result.content = "Hello.";
  sse += builder.finish(result);
  return events_of(sse);
}

TEST(ResponseBuilder, ASummaryAskedIsTheReasoningStreamedBesideIt) {
  ResponseMeta meta = meta_named("resp_1");
  meta.summary = true;
  ResponseBuilder builder(meta);
  const std::vector<Json> events = stream(builder);
  std::vector<std::string> types;
  for (const Json& e : events) types.push_back(e["type"]);
  const std::vector<std::string> reasoning_item = {
      "response.output_item.added",         "response.content_part.added",
      "response.reasoning_summary_part.added", "response.reasoning_text.delta",
      "response.reasoning_summary_text.delta", "response.reasoning_text.delta",
      "response.reasoning_summary_text.delta", "response.reasoning_text.done",
      "response.content_part.done",         "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done", "response.output_item.done"};
  ASSERT_GE(types.size(), 2 + reasoning_item.size());
  EXPECT_EQ(std::vector<std::string>(types.begin() + 2, types.begin() + 2 + reasoning_item.size()), reasoning_item);
  std::string deltas;
  for (const Json& e : events) {
    EXPECT_EQ(e["sequence_number"], &e - events.data());
    if (e["type"] == "response.reasoning_summary_text.delta") {
      EXPECT_EQ(e["item_id"], "rs_1");
      EXPECT_EQ(e["summary_index"], 0);
      deltas += e["delta"].get<std::string>();
    }
  }
  EXPECT_EQ(deltas, "Let me think.");
  const Json& item = builder.response()["output"][0];
  EXPECT_EQ(item["summary"], Json::array({{{"type", "summary_text"}, {"text", "Let me think."}}}));
  EXPECT_EQ(item["content"][0]["text"], "Let me think.");
  EXPECT_EQ(events[2 + reasoning_item.size() - 1]["item"], item);  // output_item.done is the final item
}

TEST(ResponseBuilder, WithoutASummaryTheReasoningIsItsTextAlone) {
  ResponseBuilder builder(meta_named("resp_2"));
  for (const Json& e : stream(builder))
    EXPECT_EQ(e["type"].get<std::string>().find("summary"), std::string::npos) << e.dump();
  EXPECT_EQ(builder.response()["output"][0]["summary"], Json::array());
}

}  // namespace
}  // namespace baleen::server
