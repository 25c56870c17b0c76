#include "chat/python_json.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"

namespace baleen::chat {
namespace {

// Truth: CPython's json.dumps(value, ensure_ascii=False), recorded by reference/make_python_json_fixtures.py.
TEST(PythonJson, MatchesCPythonOnRecordedRandomValues) {
  std::ifstream in(std::string(BALEEN_SOURCE_DIR) + "/tests/fixtures/chat/python_json.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const Json record = Json::parse(line);
    EXPECT_EQ(python_json_dumps(record["value"]), record["dumps"].get<std::string>()) << "line " << n + 1;
    ++n;
  }
  EXPECT_EQ(n, 2000);
}

TEST(PythonJson, UsesPythonSeparatorsAndKeepsKeyOrder) {
  const Json v = Json::parse(R"({"z": 1, "a": [true, null, "x"], "m": {}})");
  EXPECT_EQ(python_json_dumps(v), R"({"z": 1, "a": [true, null, "x"], "m": {}})");
}

TEST(PythonJson, FloatReprFollowsPythonLayout) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(1e-4), "0.0001");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  EXPECT_EQ(python_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(python_float_repr(5e-324), "5e-324");
}

TEST(PythonJson, EscapesOnlyWhatPythonEscapes) {
  EXPECT_EQ(python_json_dumps(Json("a\"b\\c\n\x01\x7f東京\u2028")),
            "\"a\\\"b\\\\c\\n\\u0001\x7f東京\u2028\"");
}

TEST(PythonJson, ParseJsonTextNamesTheFieldOnBadInput) {
  EXPECT_THROW(parse_json_text("{\"a\": ", "request"), Error);
  EXPECT_THROW(parse_json_text("\"\xff\"", "request"), Error);  // invalid UTF-8
  try {
    parse_json_text("[1,", "line 3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos);
  }
}

}  // namespace
}  // namespace baleen::chat
