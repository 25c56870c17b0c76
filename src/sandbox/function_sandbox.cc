#include "sandbox/function_sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "sandbox/confined_path.h"
#include "sandbox/sandbox_state.h"
#include "sandbox/stateful_sandbox.h"

namespace baleen::sandbox {

namespace {

// Directory entries of an open directory fd, sorted by name, "." and ".." excluded.
std::vector<std::pair<std::string, unsigned char>> entries_of(Fd dir, std::string_view what) {
  DIR* stream = ::fdopendir(dir.get());
  check(stream != nullptr, "cannot list '{}': {}", what, std::strerror(errno));
  dir.release();
  std::vector<std::pair<std::string, unsigned char>> entries;
  while (dirent* entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    entries.emplace_back(name, entry->d_type);
  }
  ::closedir(stream);
  std::sort(entries.begin(), entries.end());
  return entries;
}

std::string join(const std::string& dir, const std::string& name) {
  return dir == "." || dir.empty() ? name : dir + "/" + name;
}

// One sandbox: the directory its tools work in. This file's alone, so its members are public to the create
// and attach functions below.
class FunctionSandbox final : public StatefulSandbox {
 public:
  FunctionSandbox() : StatefulSandbox("function") {}
  ~FunctionSandbox() override { destroy_unless_persisted(); }
  bool runs_processes() const override { return false; }
  // The directory is the sandbox's whole filesystem: its root.
  std::string working_dir() const override { return "/"; }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;
  void open_root(std::string root);
  std::string run_tool(const ExecRequest& request);
  std::string list_dir(const std::string& path);
  std::string search(const std::string& text, const std::string& path, int64_t cap);

  std::string root_;
  Fd root_fd_;
};

bool available(std::string*) {
  return true;
}

bool alive(const std::string&) {
  return true;  // no process of it runs
}

std::unique_ptr<Sandbox> create(const SandboxSpec& spec) {
  const std::string& dir = spec.workspace ? spec.workspace->dir : spec.image;
  check(!dir.empty(), "function substrate: the spec names no workspace (or image) directory");
  SandboxSpec own = spec;
  // The tools change the directory itself: the workspace is read-write whatever the spec asks.
  own.workspace = Workspace{dir, WorkspaceMode::kReadWrite};
  auto sandbox = std::make_unique<FunctionSandbox>();
  sandbox->start_new(&available, own);
  sandbox->open_root(sandbox->workspace()->dir);
  sandbox->save_state(sandbox->root_, "", nlohmann::json::object());
  return sandbox;
}

std::unique_ptr<Sandbox> attach(const std::string& state_dir) {
  auto sandbox = std::make_unique<FunctionSandbox>();
  sandbox->open_root(sandbox->attach_to(state_dir).at("image"));
  return sandbox;
}

}  // namespace

const Substrate& function_substrate() {
  static const Substrate row{"function", &create, &attach, &available, &alive};
  return row;
}

void FunctionSandbox::open_root(std::string root) {
  root_ = std::move(root);
  root_fd_ = Fd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  check(static_cast<bool>(root_fd_), "function sandbox root '{}' is not a directory: {}", root_,
        std::strerror(errno));
}

ExecResult FunctionSandbox::exec(const ExecRequest& request) {
  auto start = std::chrono::steady_clock::now();
  ExecResult result;
  if (!request.shell.empty() || request.argv.empty()) {
    result.exit_code = 2;
    result.stderr_data =
        "function substrate: no shell; argv names a built-in tool "
        "(read_file, write_file, list_dir, search)\n";
  } else {
    try {
      result.stdout_data = run_tool(request);
      result.exit_code = 0;
    } catch (const Error& e) {
      result.exit_code = std::string_view(e.what()).starts_with("unknown tool") ? 127 : 1;
      result.stderr_data = std::string(e.what()) + "\n";
    }
  }
  auto cap = static_cast<size_t>(limits_.output_bytes);
  if (cap > 0 && result.stdout_data.size() > cap) {
    result.stdout_data.resize(cap);
    result.stdout_truncated = true;
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string FunctionSandbox::run_tool(const ExecRequest& request) {
  const std::vector<std::string>& argv = request.argv;
  const std::string& tool = argv[0];
  auto arg = [&](size_t i, const char* fallback) -> std::string {
    if (i < argv.size()) return argv[i];
    check(fallback != nullptr, "tool '{}' needs argument {}", tool, i);
    return fallback;
  };
  if (tool == "read_file") return read_file(arg(1, nullptr), limits_.output_bytes * 4 + 1);
  if (tool == "write_file") {
    write_file(arg(1, nullptr), request.stdin_data, 0644);
    return fmt::format("wrote {} bytes to {}\n", request.stdin_data.size(), argv[1]);
  }
  if (tool == "list_dir") return list_dir(arg(1, "."));
  if (tool == "search") return search(arg(1, nullptr), arg(2, "."), limits_.output_bytes);
  fail("unknown tool '{}' (function substrate tools: read_file, write_file, list_dir, search)", tool);
}

void FunctionSandbox::write_file(const std::string& path, std::string_view data, int mode) {
  std::string relative = relative_to_root(path);
  size_t slash = relative.rfind('/');
  if (slash != std::string::npos)
    make_dirs_confined(root_fd_.get(), relative.substr(0, slash), Confinement::kBeneath);
  Fd fd = open_confined(root_fd_.get(), relative, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode,
                        Confinement::kBeneath);
  write_whole(fd.get(), data, path);
  ::fchmod(fd.get(), static_cast<mode_t>(mode));
}

std::string FunctionSandbox::read_file(const std::string& path, int64_t max_bytes) {
  Fd fd = open_confined(root_fd_.get(), path, O_RDONLY, 0, Confinement::kBeneath);
  return read_whole(fd.get(), max_bytes, path);
}

std::string FunctionSandbox::list_dir(const std::string& path) {
  std::string out;
  for (auto& [name, type] : entries_of(
           open_confined(root_fd_.get(), path, O_RDONLY | O_DIRECTORY, 0, Confinement::kBeneath), path)) {
    out += name + (type == DT_DIR ? "/" : type == DT_LNK ? "@" : "") + "\n";
  }
  return out;
}

// Lines "path:line:text" containing `text`, over regular files under `path`; symlinks are not
// followed, output stops at `cap` bytes.
std::string FunctionSandbox::search(const std::string& text, const std::string& path, int64_t cap) {
  check(!text.empty(), "search: empty text");
  std::string out;
  std::vector<std::string> pending{relative_to_root(path)};
  while (!pending.empty() && static_cast<int64_t>(out.size()) < cap) {
    std::string current = pending.back();
    pending.pop_back();
    Fd fd = open_confined(root_fd_.get(), current, O_RDONLY | O_NOFOLLOW, 0, Confinement::kBeneath);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      auto entries = entries_of(std::move(fd), current);
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        if (it->second == DT_DIR || it->second == DT_REG) pending.push_back(join(current, it->first));
      }
      continue;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (int64_t{16} << 20)) continue;
    std::string content = read_whole(fd.get(), int64_t{16} << 20, current);
    size_t line_start = 0;
    for (int line = 1; line_start < content.size(); ++line) {
      size_t line_end = content.find('\n', line_start);
      if (line_end == std::string::npos) line_end = content.size();
      std::string_view view(content.data() + line_start, line_end - line_start);
      if (view.find(text) != std::string_view::npos) out += fmt::format("{}:{}:{}\n", current, line, view);
      line_start = line_end + 1;
    }
  }
  return out;
}

std::string FunctionSandbox::snapshot(const std::string& image_dir) {
  check(!std::filesystem::exists(image_dir), "snapshot target '{}' already exists", image_dir);
  std::error_code error;
  std::filesystem::copy(
      root_, image_dir,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks, error);
  check(!error, "cannot snapshot '{}' to '{}': {}", root_, image_dir, error.message());
  return image_dir;
}

void FunctionSandbox::destroy() {
  if (begin_destroy()) remove_state();
}

}  // namespace baleen::sandbox
