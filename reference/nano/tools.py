"""The tools baleen-nano is trained to call, and the one executor that runs them.

The data generator and the eval both run every tool call through `execute` against a real sandbox
directory, so tool results in the training data are exactly what the eval (and a user) will see.
"""
import json
import os
import subprocess

# OpenAI-style tool objects; key order is the rendered order, so keep it fixed.
TOOLS = [
    {"type": "function", "function": {
        "name": "run_command",
        "description": "Run a shell command in the workspace and return its output.",
        "parameters": {"type": "object", "properties": {
            "command": {"type": "string", "description": "The shell command to run."}},
            "required": ["command"]}}},
    {"type": "function", "function": {
        "name": "read_file",
        "description": "Read a text file from the workspace.",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "Path relative to the workspace."}},
            "required": ["path"]}}},
    {"type": "function", "function": {
        "name": "write_file",
        "description": "Write a text file in the workspace, replacing it if it exists.",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "Path relative to the workspace."},
            "content": {"type": "string", "description": "The full text of the file."}},
            "required": ["path", "content"]}}},
    {"type": "function", "function": {
        "name": "list_dir",
        "description": "List the entries of a directory in the workspace (directories end with /).",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "Directory relative to the workspace; . for the root."}},
            "required": ["path"]}}},
    {"type": "function", "function": {
        "name": "calculator",
        "description": "Apply an arithmetic operation to two numbers.",
        "parameters": {"type": "object", "properties": {
            "op": {"type": "string", "enum": ["add", "subtract", "multiply", "divide", "power", "modulo"],
                   "description": "The operation."},
            "a": {"type": "number", "description": "The first operand."},
            "b": {"type": "number", "description": "The second operand."},
            "round": {"type": "boolean", "description": "Round the result to the nearest integer."}},
            "required": ["op", "a", "b"]}}},
]
OPS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
       "divide": lambda a, b: a / b, "power": lambda a, b: a ** b, "modulo": lambda a, b: a % b}


def number_text(x):
    """How results and answers spell a number: integers without a point, others to 4 decimals."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.4f}".rstrip("0").rstrip(".")


def calculate(op, a, b, rnd=False):
    value = OPS[op](a, b)
    if rnd:
        value = round(value)
    return json.loads(number_text(value))


def schema_problems(tools, name, args):
    """Problems of one call against the schemas of `tools` (empty when the call is valid)."""
    tool = next((t for t in tools if t["function"]["name"] == name), None)
    if tool is None:
        return [f"unknown tool {name!r}"]
    if not isinstance(args, dict):
        return [f"{name}: arguments are not an object"]
    params = tool["function"]["parameters"]
    errors = [f"{name}: missing {k!r}" for k in params["required"] if k not in args]
    types = {"string": str, "number": (int, float), "boolean": bool}
    for key, value in args.items():
        spec = params["properties"].get(key)
        if spec is None:
            errors.append(f"{name}: unexpected {key!r}")
            continue
        ok = isinstance(value, types[spec["type"]])
        if spec["type"] == "number" and isinstance(value, bool):
            ok = False
        if ok and "enum" in spec and value not in spec["enum"]:
            ok = False
        if not ok:
            errors.append(f"{name}: {key!r}={value!r} is not a valid {spec['type']}")
    return errors


def schema_errors(name, args):
    """Problems of one call against its tool's JSON schema among the five (empty when the call is valid)."""
    return schema_problems(TOOLS, name, args)


def confined(root, path):
    full = os.path.realpath(os.path.join(root, path))
    if full != os.path.realpath(root) and not full.startswith(os.path.realpath(root) + os.sep):
        raise ValueError(f"path {path!r} is outside the workspace")
    return full


def execute(root, name, args):
    """Runs one tool call in the sandbox directory `root`; returns the tool message's text."""
    errors = schema_errors(name, args)
    if errors:
        return "error: " + "; ".join(errors)
    try:
        if name == "run_command":
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "HOME": root}
            proc = subprocess.run(["bash", "-c", args["command"]], cwd=root, env=env, capture_output=True,
                                  text=True, timeout=10)
            out = (proc.stdout + proc.stderr).rstrip("\n")
            return out if proc.returncode == 0 else f"{out}\n[exit code {proc.returncode}]".lstrip("\n")
        if name == "read_file":
            with open(confined(root, args["path"]), encoding="utf-8") as f:
                return f.read().rstrip("\n")
        if name == "write_file":
            full = confined(root, args["path"])
            os.makedirs(os.path.dirname(full), exist_ok=True)
            data = args["content"].encode("utf-8")
            with open(full, "wb") as f:
                f.write(data)
            return f"Wrote {len(data)} bytes to {args['path']}"
        if name == "list_dir":
            full = confined(root, args["path"])
            names = sorted(n + ("/" if os.path.isdir(os.path.join(full, n)) else "") for n in os.listdir(full))
            return "\n".join(names) if names else "(empty)"
        if name == "calculator":
            return json.dumps({"result": calculate(args["op"], args["a"], args["b"], args.get("round", False))})
    except (OSError, ValueError, ZeroDivisionError, OverflowError, subprocess.TimeoutExpired) as e:
        return f"error: {e}"
    return f"error: unknown tool {name!r}"


def materialize(root, files):
    """Lays out a task's workspace: `files` maps relative paths to text."""
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)
