// The sandbox API on each image-based substrate (`process`, `container`).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "sandbox/image.h"
#include "sandbox/init_plan.h"
#include "sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::TempDir;

std::string slurp_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class SandboxApi : public ::testing::TestWithParam<const char*> {};

using testing::spec_for;

// The plan crosses a pipe to baleen-sandbox-init: every field survives, and a cut message is refused.
TEST(InitPlan, RoundTripsEveryFieldAndRefusesATruncatedMessage) {
  std::mt19937_64 random(std::random_device{}());
  auto text = [&] { return std::string(random() % 300, static_cast<char>('a' + random() % 26)); };
  InitPlan plan;
  plan.mnt = text();
  plan.overlay_options = text();
  plan.root_sysrq = text();
  plan.dev_options = text();
  plan.workspace = text();
  plan.workspace_options = text();
  plan.lowers = {text(), text()};
  plan.dev_nodes = {text(), text(), text()};
  plan.dev_numbers = {static_cast<unsigned>(random()), 7u, 0u};
  plan.cap_last = 40;
  plan.user_namespace = random() % 2 == 0;
  plan.host_root_id = static_cast<uint32_t>(random());
  plan.die_with_parent = random() % 2 == 0;
  for (int i = 0; i < 50; ++i) {
    plan.seccomp.push_back({static_cast<uint16_t>(random()), 1, 2, static_cast<uint32_t>(random())});
  }
  std::string bytes = encode_init_plan(plan);
  InitPlan decoded;
  ASSERT_TRUE(decode_init_plan(bytes, &decoded));
  EXPECT_EQ(decoded.mnt, plan.mnt);
  EXPECT_EQ(decoded.overlay_options, plan.overlay_options);
  EXPECT_EQ(decoded.root_sysrq, plan.root_sysrq);
  EXPECT_EQ(decoded.dev_options, plan.dev_options);
  EXPECT_EQ(decoded.workspace, plan.workspace);
  EXPECT_EQ(decoded.workspace_options, plan.workspace_options);
  EXPECT_EQ(decoded.lowers, plan.lowers);
  EXPECT_EQ(decoded.dev_nodes, plan.dev_nodes);
  EXPECT_EQ(decoded.dev_numbers, plan.dev_numbers);
  EXPECT_EQ(decoded.cap_last, 40);
  EXPECT_EQ(decoded.user_namespace, plan.user_namespace);
  EXPECT_EQ(decoded.host_root_id, plan.host_root_id);
  EXPECT_EQ(decoded.die_with_parent, plan.die_with_parent);
  ASSERT_EQ(decoded.seccomp.size(), plan.seccomp.size());
  EXPECT_EQ(
      std::memcmp(decoded.seccomp.data(), plan.seccomp.data(), plan.seccomp.size() * sizeof(sock_filter)), 0);
  size_t cut = 1 + random() % (bytes.size() - 1);
  InitPlan truncated;
  EXPECT_FALSE(decode_init_plan(std::string_view(bytes).substr(0, cut), &truncated)) << "cut at " << cut;
  EXPECT_FALSE(decode_init_plan(bytes + "x", &truncated));
}

TEST_P(SandboxApi, RunsACommandAndReportsItsOutputAndStatus) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  ExecRequest request;
  request.shell = "echo out; echo err >&2; cat; exit 3";
  request.stdin_data = "from stdin\n";
  ExecResult result = sandbox->exec(request);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.signal, 0);
  EXPECT_EQ(result.stdout_data, "out\nfrom stdin\n");
  EXPECT_EQ(result.stderr_data, "err\n");
  EXPECT_FALSE(result.stdout_truncated);
  EXPECT_GT(result.wall_seconds, 0.0);
  EXPECT_GT(result.peak_memory_bytes, 0);
  sandbox->destroy();
}

TEST_P(SandboxApi, TimeoutKillsTheCommandAndTheSandboxStaysUsable) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  ExecRequest request;
  request.shell = "echo started; sleep 30";
  request.timeout = std::chrono::milliseconds(300);
  ExecResult result = sandbox->exec(request);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.signal, SIGKILL);
  EXPECT_EQ(result.stdout_data, "started\n");
  EXPECT_LT(result.wall_seconds, 10.0);
  request.shell = "echo again";
  request.timeout.reset();
  EXPECT_EQ(sandbox->exec(request).stdout_data, "again\n");
}

TEST_P(SandboxApi, OutputBeyondTheCapIsDroppedAndFlagged) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  spec.limits.output_bytes = 1000;
  auto sandbox = create_sandbox(GetParam(), spec);
  ExecRequest request;
  request.shell = "yes abcdefghij | head -c 300000; echo small >&2";
  ExecResult result = sandbox->exec(request);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.stdout_truncated);
  EXPECT_EQ(result.stdout_data.size(), 1000u);
  EXPECT_EQ(result.stdout_data.substr(0, 22), "abcdefghij\nabcdefghij\n");
  EXPECT_FALSE(result.stderr_truncated);
  EXPECT_EQ(result.stderr_data, "small\n");
}

TEST_P(SandboxApi, ArgvEnvCwdAndExecFailures) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  sandbox->write_file("/work/data/in.txt", "payload", 0644);
  ExecRequest request;
  request.argv = {"sh", "-c", "echo \"$GREETING\" $(pwd) $(cat in.txt) $0", "arg0"};
  request.env = {"PATH=/bin", "GREETING=hi there"};
  request.cwd = "/work/data";
  EXPECT_EQ(sandbox->exec(request).stdout_data, "hi there /work/data payload arg0\n");
  request.argv = {"no-such-program"};
  ExecResult missing = sandbox->exec(request);
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.stderr_data.find("No such file"), std::string::npos) << missing.stderr_data;
  request.argv = {"true"};
  request.cwd = "/no/such/dir";
  EXPECT_EQ(sandbox->exec(request).exit_code, 126);
  sandbox->write_file("/out.txt", "x", 0600);
  request.cwd = "/";
  request.shell = "echo written > /made.txt; stat -c %a /out.txt";
  EXPECT_EQ(sandbox->exec(request).stdout_data, "600\n");
  EXPECT_EQ(sandbox->read_file("/made.txt"), "written\n");
}

TEST_P(SandboxApi, NetworkOptInSharesTheHostsInterfaces) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  ExecRequest request;
  request.shell = "ip -o link | cut -d: -f2 | tr -d ' \\n'";
  std::string isolated = create_sandbox(GetParam(), spec)->exec(request).stdout_data;
  spec.limits.network = true;
  std::string shared = create_sandbox(GetParam(), spec)->exec(request).stdout_data;
  EXPECT_EQ(isolated, "lo");
  std::FILE* host = ::popen("ip -o link 2>/dev/null || busybox ip -o link", "r");
  char line[512];
  int host_interfaces = 0;
  while (host != nullptr && std::fgets(line, sizeof(line), host) != nullptr) ++host_interfaces;
  if (host != nullptr) ::pclose(host);
  if (host_interfaces <= 1) GTEST_SKIP() << "the host has only loopback";
  EXPECT_NE(shared, "lo") << "network = true should share the host's interfaces";
}

// Many sandboxes alive at once (the 1,000-sandbox run is bench/sandbox_bench): each is usable, sees
// only its own files, and has a network namespace of its own (the pool hands each out once).
TEST(ProcessSandbox, ManyLiveSandboxesAreEachUsableAndSeparate) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  spec.limits.memory_bytes = int64_t{32} << 20;
  spec.limits.disk_bytes = int64_t{1} << 20;
  constexpr int kLive = 64;
  std::mt19937_64 random(std::random_device{}());
  std::vector<std::unique_ptr<Sandbox>> live;
  std::vector<std::string> tokens;
  for (int i = 0; i < kLive; ++i) {
    live.push_back(create_sandbox("process", spec));
    tokens.push_back(std::to_string(random()));
    live.back()->write_file("/work/token", tokens.back());
  }
  EXPECT_EQ(list_sandboxes(state.path()).size(), static_cast<size_t>(kLive));
  std::set<std::string> namespaces;
  for (int i = 0; i < kLive; ++i) {
    ExecRequest request;
    request.shell = "cat /work/*; echo; readlink /proc/self/ns/net";
    ExecResult result = live[i]->exec(request);
    ASSERT_EQ(result.exit_code, 0) << result.stderr_data;
    size_t newline = result.stdout_data.find('\n');
    ASSERT_NE(newline, std::string::npos) << result.stdout_data;
    EXPECT_EQ(result.stdout_data.substr(0, newline), tokens[i]);
    namespaces.insert(result.stdout_data.substr(newline + 1));
  }
  EXPECT_EQ(namespaces.size(), static_cast<size_t>(kLive));
  for (auto& sandbox : live) sandbox->destroy();
  EXPECT_TRUE(list_sandboxes(state.path()).empty());
}

// Inits come from a pool, already in cgroups of the controllers the last sandbox used: each sandbox
// still gets its own cgroups with its own limits, and they are gone soon after destroy.
TEST(ProcessSandbox, EachSandboxHasItsOwnCgroupsWithItsOwnLimits) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  std::vector<std::string> all_dirs;
  for (int64_t pids : {40, 41, 42, 43, 44, 45}) {  // more than the pool holds: pooled and fresh inits
    SandboxSpec spec = spec_for(image, state);
    spec.limits.pids = pids;
    spec.limits.memory_bytes = pids << 20;
    auto sandbox = create_sandbox("process", spec);
    auto saved = nlohmann::json::parse(slurp_file(state.path() + "/" + sandbox->id() + "/sandbox.json"));
    int found = 0;
    for (const std::string dir : saved.at("cgroups")) {
      all_dirs.push_back(dir);
      std::string procs = slurp_file(dir + "/cgroup.procs");
      EXPECT_EQ(procs, std::to_string(saved.at("init_pid").get<int>()) + "\n") << dir << " holds only init";
      if (dir.find("/pids/") != std::string::npos) {
        EXPECT_EQ(slurp_file(dir + "/pids.max"), std::to_string(pids) + "\n");
        ++found;
      } else if (dir.find("/memory/") != std::string::npos) {
        EXPECT_EQ(slurp_file(dir + "/memory.limit_in_bytes"), std::to_string(pids << 20) + "\n");
        ++found;
      }
    }
    if (found == 0) GTEST_SKIP() << "no writable v1 memory or pids cgroup here";
    sandbox->destroy();
  }
  for (int i = 0; i < 400 && std::any_of(all_dirs.begin(), all_dirs.end(),
                                         [](const std::string& dir) { return std::filesystem::exists(dir); });
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (const std::string& dir : all_dirs) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

// Commands start with default signal dispositions, whatever the creator ignores.
TEST(ProcessSandbox, CommandsDoNotInheritTheCreatorsSignalDispositions) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  auto previous = ::signal(SIGPIPE, SIG_IGN);
  auto sandbox = create_sandbox("process", spec_for(image, state));
  ::signal(SIGPIPE, previous);
  ExecRequest request;
  request.argv = {"grep", "-E", "SigIgn|SigCgt", "/proc/self/status"};  // no shell: ash ignores SIGQUIT
  ExecResult result = sandbox->exec(request);
  EXPECT_EQ(result.stdout_data, "SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n");
}

TEST_P(SandboxApi, AnotherProcessAttachesListsAndDestroys) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  spec.persist = true;
  auto sandbox = create_sandbox(GetParam(), spec);
  std::string id = sandbox->id();
  sandbox.reset();  // persistent: the sandbox outlives this handle
  auto listed = list_sandboxes(state.path());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_TRUE(listed[0].alive);
  auto attached = attach_sandbox(state.path(), id);
  ExecRequest request;
  request.shell = "echo attached";
  EXPECT_EQ(attached->exec(request).stdout_data, "attached\n");
  attached->destroy();
  EXPECT_TRUE(list_sandboxes(state.path()).empty());
  EXPECT_THROW(attach_sandbox(state.path(), id), Error);
}

TEST_P(SandboxApi, SnapshotCarriesNewFilesAndDeletionsIntoANewImage) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state, images;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  ExecRequest request;
  request.shell =
      "echo kept > /work/new.txt && rm /etc/hostname && mkdir -p /opt/tool && ln -s /work/new.txt "
      "/opt/tool/link";
  ASSERT_EQ(sandbox->exec(request).exit_code, 0);
  std::string snapshot = sandbox->snapshot(images.path() + "/snap");
  EXPECT_THROW(sandbox->snapshot(snapshot), Error) << "the target must be new";
  sandbox->destroy();
  SandboxSpec spec = spec_for(snapshot, state);
  auto restored = create_sandbox(GetParam(), spec);
  request.shell = "cat /opt/tool/link; test -e /etc/hostname && echo hostname-present; head -c 4 /etc/passwd";
  ExecResult result = restored->exec(request);
  EXPECT_EQ(result.stdout_data, "kept\nroot") << result.stderr_data;
  EXPECT_TRUE(std::filesystem::exists(image + "/layers/base/etc/hostname"))
      << "the parent image is untouched";
}

// In a user namespace the writable layer holds host ids 100000+; the snapshot writes them back as
// the image's own ids (root = 0), so the new image reads as root's with or without the namespace.
TEST(ProcessSandbox, ASnapshotHoldsTheImagesIdsNotTheMappedHostIds) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state, images;
  auto sandbox = create_sandbox("process", spec_for(image, state));
  sandbox->write_file("/work/api/file", "from the API");
  ExecRequest request;
  request.shell = "echo made > /work/made && mkdir /work/dir";
  ASSERT_EQ(sandbox->exec(request).exit_code, 0);
  std::string snapshot = sandbox->snapshot(images.path() + "/snap");
  sandbox->destroy();
  Image restored_image = Image::open(snapshot);
  for (const char* path : {"/work", "/work/made", "/work/dir", "/work/api", "/work/api/file"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((restored_image.layers.back() + path).c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, 0u) << path;
    EXPECT_EQ(st.st_gid, 0u) << path;
  }
  for (bool user_namespace : {true, false}) {
    SandboxSpec spec = spec_for(snapshot, state);
    if (!user_namespace) spec.user_namespace = std::nullopt;
    auto restored = create_sandbox("process", spec);
    request.shell = "stat -c %u:%g /work/made /work/api/file && echo more >> /work/made && cat /work/made";
    ExecResult result = restored->exec(request);
    EXPECT_EQ(result.stdout_data, "0:0\n0:0\nmade\nmore\n") << result.stderr_data;
  }
}

TEST_P(SandboxApi, ASignalEndingTheCommandIsReportedAsTheSignal) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  ExecRequest request;
  request.shell = "echo before; kill -TERM $$; echo after";
  ExecResult result = sandbox->exec(request);
  EXPECT_EQ(result.signal, SIGTERM);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.stdout_data, "before\n");
  request.shell = "exit 42";
  result = sandbox->exec(request);
  EXPECT_EQ(result.exit_code, 42);
  EXPECT_EQ(result.signal, 0);
}

TEST_P(SandboxApi, FilesRoundTripByteForByte) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  auto sandbox = create_sandbox(GetParam(), spec_for(image, state));
  std::mt19937 random(std::random_device{}());
  std::string data(size_t{100'000} + random() % 1000, '\0');
  for (char& c : data) c = static_cast<char>(random());
  sandbox->write_file("/work/deep/dir/blob.bin", data, 0640);
  EXPECT_EQ(sandbox->read_file("/work/deep/dir/blob.bin"), data);
  EXPECT_EQ(sandbox->read_file("work/deep/../deep/dir/blob.bin"), data);
  ExecRequest request;
  request.shell = "wc -c < /work/deep/dir/blob.bin; stat -c %a /work/deep/dir/blob.bin";
  EXPECT_EQ(sandbox->exec(request).stdout_data, std::to_string(data.size()) + "\n640\n");
  EXPECT_THROW(sandbox->read_file("/work/deep/dir/blob.bin", 10), Error) << "max_bytes is enforced";
  EXPECT_THROW(sandbox->read_file("/no/such/file"), Error);
}

TEST_P(SandboxApi, DestroyIsIdempotentAndEndsEveryHandle) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  spec.persist = true;
  auto sandbox = create_sandbox(GetParam(), spec);
  auto second = attach_sandbox(state.path(), sandbox->id());
  ExecRequest request;
  request.shell = "sleep 1000 & echo started";
  EXPECT_EQ(second->exec(request).stdout_data, "started\n");
  sandbox->destroy();
  sandbox->destroy();
  EXPECT_NO_THROW(second->destroy()) << "destroying through a stale handle is a no-op";
  EXPECT_TRUE(list_sandboxes(state.path()).empty());
  EXPECT_FALSE(std::filesystem::exists(state.path() + "/" + sandbox->id()));
  EXPECT_THROW(sandbox->exec(request), Error);
}

INSTANTIATE_TEST_SUITE_P(Substrates, SandboxApi, ::testing::ValuesIn(testing::kImageSubstrates),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace baleen::sandbox
