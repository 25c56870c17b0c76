#include "chat/argument_schema.h"

#include <gtest/gtest.h>

namespace baleen::chat {
namespace {

const Json kFunction = Json::parse(R"({"name": "f", "parameters": {"properties": {
  "i": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"}, "s": {"type": "string"},
  "o": {"type": "object"}, "a": {"type": "array"}, "u": {"type": ["integer", "string"]}}}})");

RawParameter raw(std::string name, std::string value, bool is_string = false) {
  RawParameter p;
  p.name = std::move(name);
  p.value = std::move(value);
  p.is_string = is_string;
  return p;
}

TEST(ArgumentSchema, StringTrueIsKeptVerbatimWhateverTheSchemaSays) {
  const TypedArguments t = type_arguments({raw("i", " 5 ", true)}, kFunction);
  EXPECT_EQ(t.arguments["i"], " 5 ");
  EXPECT_TRUE(t.errors.empty());
}

TEST(ArgumentSchema, StringFalseJsonMatchingTheSchemaIsUsedAsIs) {
  const TypedArguments t = type_arguments(
      {raw("i", "12"), raw("x", "-2.5e3"), raw("b", "false"), raw("o", R"({"k": [1]})"), raw("a", "[]")},
      kFunction);
  EXPECT_EQ(t.arguments, Json::parse(R"({"i": 12, "x": -2500.0, "b": false, "o": {"k": [1]}, "a": []})"));
  EXPECT_TRUE(t.errors.empty());
}

TEST(ArgumentSchema, CoercesToTheSchemaType) {
  const TypedArguments t = type_arguments({raw("i", "\"12\""), raw("x", "\"0.25\""), raw("b", "FALSE"),
                                           raw("s", "42"), raw("i2", "3"), raw("u", "abc")},
                                          kFunction);
  EXPECT_EQ(t.arguments["i"], 12);
  EXPECT_EQ(t.arguments["x"], 0.25);
  EXPECT_EQ(t.arguments["b"], false);
  EXPECT_EQ(t.arguments["s"], "42");
  EXPECT_EQ(t.arguments["i2"], 3);  // no schema: JSON as written
  EXPECT_EQ(t.arguments["u"], "abc");
  EXPECT_TRUE(t.errors.empty());
}

TEST(ArgumentSchema, IntegralFloatBecomesAnIntegerForIntegerParameters) {
  EXPECT_TRUE(type_arguments({raw("i", "4.0")}, kFunction).arguments["i"].is_number_integer());
}

TEST(ArgumentSchema, InvalidJsonKeepsTheRawTextAndReportsIt) {
  const TypedArguments t = type_arguments({raw("o", "{broken"), raw("zz", "also broken")}, kFunction);
  EXPECT_EQ(t.arguments["o"], "{broken");
  EXPECT_EQ(t.arguments["zz"], "also broken");
  ASSERT_EQ(t.errors.size(), 2u);
  EXPECT_EQ(t.errors[0].raw, "{broken");
  EXPECT_NE(t.errors[0].message.find("\"o\""), std::string::npos);
}

TEST(ArgumentSchema, UnknownToolStillTypesJson) {
  const TypedArguments t = type_arguments({raw("n", "1"), raw("s", "x", true)}, Json());
  EXPECT_EQ(t.arguments, Json::parse(R"({"n": 1, "s": "x"})"));
}

}  // namespace
}  // namespace baleen::chat
