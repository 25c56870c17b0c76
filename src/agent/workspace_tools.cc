#include "agent/workspace_tools.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace baleen::agent {
namespace {

chat::Json string_param(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

chat::Json tool(const char* name, const char* description, chat::Json properties, chat::Json required) {
  return {{"type", "function"},
          {"function",
           {{"name", name},
            {"description", description},
            {"parameters",
             {{"type", "object"}, {"properties", std::move(properties)}, {"required", required}}}}}};
}

chat::Json make_schemas() {
  const char* rel = "Path relative to the workspace.";
  chat::Json calc_props = chat::Json::object();
  calc_props["op"] = {{"type", "string"},
                      {"enum", {"add", "subtract", "multiply", "divide", "power", "modulo"}},
                      {"description", "The operation."}};
  calc_props["a"] = {{"type", "number"}, {"description", "The first operand."}};
  calc_props["b"] = {{"type", "number"}, {"description", "The second operand."}};
  calc_props["round"] = {{"type", "boolean"}, {"description", "Round the result to the nearest integer."}};
  return chat::Json::array(
      {tool("run_command", "Run a shell command in the workspace and return its output.",
            {{"command", string_param("The shell command to run.")}}, {"command"}),
       tool("read_file", "Read a text file from the workspace.", {{"path", string_param(rel)}}, {"path"}),
       tool("write_file", "Write a text file in the workspace, replacing it if it exists.",
            {{"path", string_param(rel)}, {"content", string_param("The full text of the file.")}},
            {"path", "content"}),
       tool("list_dir", "List the entries of a directory in the workspace (directories end with /).",
            {{"path", string_param("Directory relative to the workspace; . for the root.")}}, {"path"}),
       tool("calculator", "Apply an arithmetic operation to two numbers.", calc_props, {"op", "a", "b"}),
       tool("search", "Find the lines of workspace files that contain a text (path:line:text).",
            {{"text", string_param("The text to look for.")},
             {"path", string_param("Directory or file to search; . for the whole workspace.")}},
            {"text"})});
}

// The schema problems of a call, "; "-joined as tools.py does; empty when valid.
std::string schema_errors(const std::string& name, const chat::Json& args) {
  const chat::Json* fn = nullptr;
  for (const chat::Json& t : workspace_tool_schemas()) {
    if (t["function"]["name"] == name) fn = &t["function"];
  }
  if (!fn) return fmt::format("unknown tool '{}'", name);
  if (!args.is_object()) return name + ": arguments are not an object";
  const chat::Json& params = (*fn)["parameters"];
  std::string errors;
  auto add = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
  for (const auto& key : params["required"]) {
    if (!args.contains(key.get<std::string>()))
      add(fmt::format("{}: missing '{}'", name, key.get<std::string>()));
  }
  for (const auto& [key, value] : args.items()) {
    if (!params["properties"].contains(key)) {
      add(fmt::format("{}: unexpected '{}'", name, key));
      continue;
    }
    const chat::Json& spec = params["properties"][key];
    const std::string type = spec["type"];
    bool ok = type == "string"   ? value.is_string()
              : type == "number" ? value.is_number()
                                 : value.is_boolean();
    if (ok && spec.contains("enum"))
      ok = std::find(spec["enum"].begin(), spec["enum"].end(), value) != spec["enum"].end();
    if (!ok) add(fmt::format("{}: '{}'={} is not a valid {}", name, key, value.dump(), type));
  }
  return errors;
}

std::string rstrip_newlines(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Runs argv (or a shell line) in the sandbox; output as tools.py formats it.
ToolOutcome exec_text(sandbox::Sandbox& sandbox, sandbox::ExecRequest request) {
  const sandbox::ExecResult r = sandbox.exec(request);
  std::string out = rstrip_newlines(r.stdout_data + r.stderr_data);
  if (r.timed_out) return {out + "\n[timed out]", true};
  if (r.signal != 0) return {fmt::format("{}\n[signal {}]", out, r.signal), true};
  if (r.exit_code != 0) {
    if (!sandbox.runs_processes()) return {"error: " + out, true};
    return {(out.empty() ? "" : out + "\n") + fmt::format("[exit code {}]", r.exit_code), false};
  }
  return {out, false};
}

sandbox::ExecRequest argv_request(std::vector<std::string> argv) {
  sandbox::ExecRequest r;
  r.argv = std::move(argv);
  return r;
}

sandbox::ExecRequest shell_request(std::string line) {
  sandbox::ExecRequest r;
  r.shell = std::move(line);
  return r;
}

ToolOutcome calculate(const chat::Json& args) {
  const std::string op = args["op"];
  const double a = args["a"].get<double>(), b = args["b"].get<double>();
  double v = 0;
  if (op == "add")
    v = a + b;
  else if (op == "subtract")
    v = a - b;
  else if (op == "multiply")
    v = a * b;
  else if (op == "power")
    v = std::pow(a, b);
  else if (b == 0)
    return {op == "divide" ? "error: division by zero" : "error: integer modulo by zero", true};
  else if (op == "divide")
    v = a / b;
  else
    v = a - b * std::floor(a / b);  // Python's modulo takes the divisor's sign
  if (!std::isfinite(v)) return {"error: result out of range", true};
  if (args.value("round", false)) v = std::nearbyint(v);
  return {"{\"result\": " + number_text(v) + "}", false};
}

}  // namespace

const chat::Json& workspace_tool_schemas() {
  static const chat::Json schemas = make_schemas();
  return schemas;
}

std::string number_text(double value) {
  if (std::nearbyint(value) == value && std::fabs(value) < 1e15)
    return fmt::format("{}", static_cast<int64_t>(value));
  std::string s = fmt::format("{:.4f}", value);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

ToolOutcome run_workspace_tool(sandbox::Sandbox& sandbox, const std::string& name, const chat::Json& args) {
  if (const std::string errors = schema_errors(name, args); !errors.empty())
    return {"error: " + errors, true};
  const bool function = !sandbox.runs_processes();
  try {
    if (name == "calculator") return calculate(args);
    if (name == "run_command") {
      if (function) {
        return {"error: run_command is not available in the function sandbox (use --sandbox process)", true};
      }
      return exec_text(sandbox, shell_request(args["command"].get<std::string>()));
    }
    const std::string path = args.value("path", std::string("."));
    if (name == "read_file") return {rstrip_newlines(sandbox.read_file(path, int64_t{1} << 20)), false};
    if (name == "write_file") {
      const std::string content = args["content"];
      sandbox.write_file(path, content, 0644);
      return {fmt::format("Wrote {} bytes to {}", content.size(), path), false};
    }
    if (name == "list_dir") {
      ToolOutcome o = function ? exec_text(sandbox, argv_request({"list_dir", path}))
                               : exec_text(sandbox, argv_request({"ls", "-1Ap", "--", path}));
      if (!o.is_error && o.content.empty()) o.content = "(empty)";
      return o;
    }
    const std::string text = args["text"];
    return function ? exec_text(sandbox, argv_request({"search", text, path}))
                    : exec_text(sandbox, argv_request({"grep", "-rnF", "--", text, path}));
  } catch (const Error& e) {
    return {std::string("error: ") + e.what(), true};
  }
}

}  // namespace baleen::agent
