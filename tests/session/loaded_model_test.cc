#include "session/loaded_model.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.h"

namespace baleen::session {
namespace {

struct ModelEnv : ::testing::Test {
  void TearDown() override { ::unsetenv("BALEEN_MODEL"); }
};

TEST_F(ModelEnv, ExplicitDirectoryWinsAndAMissingOneIsAnError) {
  const std::string nano = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
  EXPECT_EQ(resolve_model_dir(nano), nano);
  EXPECT_THROW(resolve_model_dir("/nonexistent/model"), Error);
}

TEST_F(ModelEnv, EnvironmentThenTheCommittedNanoModel) {
  ::setenv("BALEEN_MODEL", "/nonexistent/env-model", 1);
  try {
    resolve_model_dir({});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("BALEEN_MODEL"), std::string::npos) << e.what();
  }
  ::unsetenv("BALEEN_MODEL");
  EXPECT_TRUE(std::filesystem::is_regular_file(resolve_model_dir({}) / "config.json"));
  EXPECT_EQ(resolve_model_dir({}).filename(), "baleen-nano");
}

}  // namespace
}  // namespace baleen::session
