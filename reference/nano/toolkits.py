"""Tool sets in many spellings (v6 data): the same five capabilities under other names, descriptions, parameter
names and operation words, with or without a shell, and a sandbox that may refuse the shell.

A toolkit is the `tools` list the model is shown plus a binding per tool name: which capability it is
(`impl`: one of tools.TOOLS' names, or `search`), how its parameters map to the capability's (`params`), how its
operation words map to the calculator's (`ops`), and, for a refused tool, the error the sandbox answers with
(`refuse`). `execute_bound` runs a call through a binding, so a call in any spelling runs for real; it is what the
generator and eval.py both use, and its errors read like baleen's workspace tools' (no host paths).

Name pools: TRAIN's names and words appear in training data; HELDOUT's never do (eval.py reports the calls of
tasks drawn with them: "schemas with names never seen in training").
"""
import json
import os

from tools import TOOLS, execute, schema_problems as schema_errors  # noqa: F401 (eval.py uses it)

CANONICAL = {t["function"]["name"]: t for t in TOOLS}
OPS = ["add", "subtract", "multiply", "divide", "power", "modulo"]

# capability -> name pool, descriptions, {canonical param: spellings}
TRAIN = {
    "read_file": dict(names=["read_file", "cat", "read", "open_file", "file_read", "get_file", "view_file",
                             "fs_read", "read_text"],
                      desc=["Read a text file from the workspace.", "Return the contents of a file.",
                            "Print a file's text.", "Get the full text of one file in the sandbox."],
                      params={"path": ["path", "file", "filename", "file_path", "name"]}),
    "list_dir": dict(names=["list_dir", "ls", "list_files", "listdir", "list_directory", "fs_list", "dir"],
                     desc=["List the entries of a directory in the workspace (directories end with /).",
                           "Show the files in a folder.", "List a directory; subdirectories end with a slash."],
                     params={"path": ["path", "dir", "directory", "folder"]}),
    "write_file": dict(names=["write_file", "save_file", "write", "create_file", "fs_write", "put_file"],
                       desc=["Write a text file in the workspace, replacing it if it exists.",
                             "Create or overwrite a file with the given text.", "Save text to a file."],
                       params={"path": ["path", "file", "filename", "file_path"],
                               "content": ["content", "text", "data", "contents", "body"]}),
    "run_command": dict(names=["run_command", "shell", "bash", "exec", "run", "sh", "terminal"],
                        desc=["Run a shell command in the workspace and return its output.",
                              "Execute a bash command line.", "Run a command in a shell and return stdout and stderr."],
                        params={"command": ["command", "cmd", "script", "line"]}),
    "calculator": dict(names=["calculator", "calc", "math", "compute", "arithmetic"],
                       desc=["Apply an arithmetic operation to two numbers.", "Do arithmetic on two numbers.",
                             "Calculate a binary operation."],
                       params={"op": ["op", "operation", "operator"], "a": ["a", "x", "first", "left"],
                               "b": ["b", "y", "second", "right"], "round": ["round", "integer", "round_result"]},
                       ops=[OPS, ["plus", "minus", "times", "div", "pow", "mod"], ["+", "-", "*", "/", "^", "%"]]),
    "search": dict(names=["search", "grep", "find_text"],
                   desc=["Find the lines of workspace files that contain a text (path:line:text)."],
                   params={"text": ["text", "query", "pattern"], "path": ["path", "dir", "where"]}),
}
# Never in training data: the eval's unseen spellings.
HELDOUT = {
    "read_file": dict(names=["peek_file", "load_file", "file_contents", "readfile", "show_file"],
                      desc=["Fetch a file and return what it holds.", "Open a workspace file and return its text."],
                      params={"path": ["filepath", "location", "target", "fname"]}),
    "list_dir": dict(names=["enumerate_dir", "directory_listing", "show_dir", "list_entries"],
                     desc=["Enumerate what a directory holds (folders carry a trailing /)."],
                     params={"path": ["location", "dirpath", "target"]}),
    "write_file": dict(names=["store_file", "file_write", "save_text", "writefile"],
                       desc=["Store text in a workspace file (an existing one is overwritten)."],
                       params={"path": ["filepath", "location", "target"], "content": ["payload", "file_text", "value"]}),
    "run_command": dict(names=["run_shell", "execute_command", "cmdline", "sh_exec"],
                        desc=["Execute a command in the sandbox shell; returns its output."],
                        params={"command": ["shell_command", "commandline", "invocation"]}),
    "calculator": dict(names=["math_eval", "arith", "calculate", "number_cruncher"],
                       desc=["Combine two numbers with one arithmetic operator."],
                       params={"op": ["operator_name", "kind", "fn"], "a": ["lhs", "num1", "p"],
                               "b": ["rhs", "num2", "q"], "round": ["to_integer", "whole"]},
                       ops=[["sum", "difference", "product", "quotient", "exponent", "remainder"], OPS]),
    "search": dict(names=["lookup_text", "text_search"], desc=["Search the workspace files for a text."],
                   params={"text": ["needle", "phrase"], "path": ["scope", "root"]}),
}
REFUSALS = ["error: run_command is not available in the function sandbox (use --sandbox process)",
            "error: {name} is disabled in this sandbox",
            "error: permission denied: this workspace does not allow shell commands",
            "error: tool '{name}' is not permitted by the sandbox policy"]
MISSING = ["error: cannot open '{p}' in the sandbox: No such file or directory",
           "error: [Errno 2] No such file or directory: '{p}'",
           "error: {p}: file not found"]
ISDIR = ["error: cannot read '{p}' in the sandbox: Is a directory", "error: [Errno 21] Is a directory: '{p}'"]
NOTDIR = ["error: cannot open '{p}' in the sandbox: No such file or directory",
          "error: [Errno 2] No such file or directory: '{p}'", "error: {p}: no such directory"]
OUTSIDE = ["error: path '{p}' leaves the sandbox root", "error: path {p!r} is outside the workspace"]


def _schema(impl, name, desc, params, ops, required_round):
    base = CANONICAL.get(impl)
    if impl == "search":
        props = {"text": {"type": "string", "description": "The text to look for."},
                 "path": {"type": "string", "description": "Directory or file to search; . for the whole workspace."}}
        required = ["text"]
    else:
        props, required = base["function"]["parameters"]["properties"], base["function"]["parameters"]["required"]
    out = {}
    for key, spec in props.items():
        if key == "round" and not required_round:
            continue
        spec = dict(spec)
        if key == "op":
            spec["enum"] = list(ops)
        out[params[key]] = spec
    return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": out, "required": [params[k] for k in required]}}}


def make_toolkit(rng, pool="train", shell="maybe", search=None, canonical=None):
    """A random toolkit: (tools, bindings). shell: 'yes' | 'no' | 'refused' | 'maybe' (drawn: 40% none, 15%
    refused). canonical: probability of the canonical spelling for the whole kit (default .35)."""
    names = TRAIN if pool == "train" else HELDOUT
    if shell == "maybe":
        shell = rng.choices(["yes", "no", "refused"], [0.45, 0.4, 0.15])[0]
    search = rng.random() < 0.3 if search is None else search
    plain = rng.random() < (0.35 if canonical is None else canonical)
    impls = ["read_file", "list_dir", "write_file", "calculator"] + (["run_command"] if shell != "no" else [])
    impls += ["search"] if search else []
    if rng.random() < 0.5:
        rng.shuffle(impls)
    tools, bindings = [], {}
    for impl in impls:
        src = TRAIN[impl] if plain or (pool == "heldout" and rng.random() < 0.25) else names[impl]
        if plain:
            name, desc = impl, TRAIN[impl]["desc"][0]
            params = {k: k for k in src["params"]}
            ops = OPS
        else:
            name, desc = rng.choice(src["names"]), rng.choice(src["desc"])
            params = {k: rng.choice(v) for k, v in src["params"].items()}
            ops = rng.choice(src["ops"]) if "ops" in src else OPS
        if name in bindings:  # two capabilities drew one name: keep the canonical one
            name = impl
        with_round = impl == "calculator" and (plain or rng.random() < 0.7)
        tools.append(_schema(impl, name, desc, params, ops, with_round))
        b = {"impl": impl, "params": params}
        if impl == "calculator":
            b["ops"] = dict(zip(OPS, ops))
            b["round"] = with_round
        if impl == "run_command" and shell == "refused":
            b["refuse"] = rng.choice(REFUSALS).format(name=name)
        bindings[name] = b
    return tools, bindings


class Kit:
    """A toolkit as the task builders use it: calls spelled the kit's way, and what the kit can do."""

    def __init__(self, tools, bindings, errors):
        self.tools, self.bindings, self.errors = tools, bindings, errors
        self.by_impl = {b["impl"]: n for n, b in bindings.items()}

    def has(self, impl):
        return impl in self.by_impl

    def usable(self, impl):
        return impl in self.by_impl and "refuse" not in self.bindings[self.by_impl[impl]]

    def name(self, impl):
        return self.by_impl[impl]

    def call(self, impl, **args):
        """(tool name, arguments) in this kit's spelling for canonical arguments."""
        b = self.bindings[self.by_impl[impl]]
        out = {}
        for k, v in args.items():
            if k == "round" and not b.get("round"):
                continue
            out[b["params"][k]] = b["ops"][v] if k == "op" else v
        return self.by_impl[impl], out


def search_files(root, text, path):
    base = os.path.join(root, path)
    hits = []
    for dirpath, dirs, files in os.walk(base):
        dirs.sort()
        for fn in sorted(files):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root)
            with open(full, encoding="utf-8", errors="replace") as f:
                hits += [f"{rel}:{i}:{line.rstrip()}" for i, line in enumerate(f, 1) if text in line]
    return "\n".join(hits)


def execute_bound(root, tools, bindings, errors, name, args):
    """Runs a call spelled in a toolkit's way; returns the tool message's text. `errors` picks the wording of
    file errors (an index into MISSING / ISDIR / NOTDIR / OUTSIDE)."""
    problems = schema_errors(tools, name, args)
    if problems:
        return "error: " + "; ".join(problems)
    b = bindings[name]
    if "refuse" in b:
        return b["refuse"]
    inv = {v: k for k, v in b["params"].items()}
    canon = {inv[k]: v for k, v in args.items()}
    if b["impl"] == "calculator":
        canon["op"] = {v: k for k, v in b["ops"].items()}[canon["op"]]
        if canon["op"] in ("divide", "modulo") and canon["b"] == 0:
            return "error: division by zero" if canon["op"] == "divide" else "error: integer modulo by zero"
    path = canon.get("path", ".")
    if b["impl"] in ("read_file", "list_dir", "write_file", "search"):
        full = os.path.realpath(os.path.join(root, path))
        if full != os.path.realpath(root) and not full.startswith(os.path.realpath(root) + os.sep):
            return OUTSIDE[errors % len(OUTSIDE)].format(p=path)
        if b["impl"] == "read_file" and os.path.isdir(full):
            return ISDIR[errors % len(ISDIR)].format(p=path)
        if b["impl"] == "read_file" and not os.path.exists(full):
            return MISSING[errors % len(MISSING)].format(p=path)
        if b["impl"] in ("list_dir", "search") and not os.path.isdir(full) and not os.path.isfile(full):
            return NOTDIR[errors % len(NOTDIR)].format(p=path)
        if b["impl"] == "list_dir" and not os.path.isdir(full):
            return NOTDIR[errors % len(NOTDIR)].format(p=path)
    if b["impl"] == "search":
        out = search_files(root, canon["text"], path)
        return out if out else "(no matches)"
    return execute(root, b["impl"], canon)


def to_json(tools, bindings):
    return json.dumps({"tools": tools, "bindings": bindings}, ensure_ascii=False)
