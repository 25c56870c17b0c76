// What is particular to the `container` substrate: the OCI config it generates (no crun needed) and
// crun's state staying under the sandbox's state directory. The API and escape suites run over it too
// (process_sandbox_test.cc, process_escape_test.cc).
#include "sandbox/container_sandbox.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "sandbox/oci_config.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::TempDir;

bool has_namespace(const nlohmann::json& config, const std::string& type) {
  const auto& list = config["linux"]["namespaces"];
  return std::any_of(list.begin(), list.end(), [&](const auto& ns) { return ns["type"] == type; });
}

TEST(OciConfig, IsolatesAndDropsEveryPrivilege) {
  OciConfigInput input{"/state/mnt/root", "abc", Limits{}, true};
  nlohmann::json config = oci_config(input);
  EXPECT_EQ(config["root"]["path"], "/state/mnt/root");
  for (const char* type : {"pid", "mount", "ipc", "uts", "network"})
    EXPECT_TRUE(has_namespace(config, type)) << type;
  EXPECT_TRUE(config["process"]["noNewPrivileges"].get<bool>());
  for (const auto& [set, caps] : config["process"]["capabilities"].items()) EXPECT_TRUE(caps.empty()) << set;
  const auto& readonly = config["linux"]["readonlyPaths"];
  EXPECT_NE(std::find(readonly.begin(), readonly.end(), "/proc/sys"), readonly.end());
  for (const auto& mount : config["mounts"]) EXPECT_NE(mount["type"], "sysfs") << "no /sys, as in `process`";
  input.limits.network = true;
  EXPECT_FALSE(has_namespace(oci_config(input), "network")) << "network = true shares the host's";
}

TEST(OciConfig, SeccompDeniesWhatTheProcessFilterDenies) {
  nlohmann::json seccomp = oci_config({"/r", "abc", Limits{}, true})["linux"]["seccomp"];
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(seccomp["architectures"], nlohmann::json({"SCMP_ARCH_X86_64"}));
  std::vector<std::string> eperm;
  uint64_t clone_flags = 0;
  bool clone3_enosys = false;
  for (const auto& rule : seccomp["syscalls"]) {
    std::vector<std::string> names = rule["names"];
    if (names == std::vector<std::string>{"clone"}) {
      EXPECT_EQ(rule["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
      clone_flags |= rule["args"][0]["value"].get<uint64_t>();
    } else if (names == std::vector<std::string>{"clone3"}) {
      clone3_enosys = rule["errnoRet"] == ENOSYS;
    } else {
      EXPECT_EQ(rule["errnoRet"], EPERM);
      eperm.insert(eperm.end(), names.begin(), names.end());
    }
  }
  EXPECT_EQ(eperm, sandbox_eperm_syscalls());
  EXPECT_EQ(clone_flags, sandbox_clone_namespace_flags());
  EXPECT_TRUE(clone3_enosys);
}

TEST(OciConfig, AddressSpaceLimitStandsInOnlyWithoutAMemoryCgroup) {
  auto has_rlimit_as = [](const nlohmann::json& config) {
    const auto& list = config["process"]["rlimits"];
    return std::any_of(list.begin(), list.end(), [](const auto& r) { return r["type"] == "RLIMIT_AS"; });
  };
  EXPECT_FALSE(has_rlimit_as(oci_config({"/r", "abc", Limits{}, true})));
  EXPECT_TRUE(has_rlimit_as(oci_config({"/r", "abc", Limits{}, false})));
}

TEST(ContainerSandbox, CrunStateStaysUnderTheSandboxsStateDirectory) {
  BALEEN_REQUIRE_SANDBOX("container", image);
  TempDir state;
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = state.path();
  auto sandbox = create_sandbox("container", spec);
  std::string dir = state.path() + "/" + sandbox->id();
  EXPECT_TRUE(std::filesystem::exists(dir + "/crun/" + sandbox->id())) << "crun --root is the sandbox's";
  EXPECT_FALSE(std::filesystem::exists("/run/crun/" + sandbox->id()))
      << "nothing in the host's default state";
  EXPECT_TRUE(std::filesystem::exists(dir + "/bundle/config.json"));
  EXPECT_EQ(sandbox->substrate(), "container");
  sandbox->destroy();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace baleen::sandbox
