"""v6 task builders: the kinds of tasks.py and new ones, asked in many phrasings (phrasings.py) over toolkits in
many spellings (toolkits.py), and tool errors with their recoveries.

A builder is `builder(rng, ctx)` -> (user text, steps) like tasks.py's, or None when the workspace or the toolkit
cannot host it (the driver draws another). ctx carries the workspace facts, the toolkit, the phrasebook and what
the conversation has learnt (a refused shell is not tried again). Errors are never the assistant's fault: the
user names a missing file or a directory, asks to divide by zero, or the sandbox refuses the shell; the
assistant reads the error and does something else (lists the directory, reads the file instead of running a
command) or says plainly why it cannot, and never repeats a call that failed.
"""
from dataclasses import dataclass, field
import json
import os

from phrasings import spell_number
from tasks import CAPITALS, OPPOSITES, SYMBOL, Step, operands, result_of
from tools import number_text
from workspace import NAMES, WORDS

TEXT_FILES = {"greeting.txt": ["Hello from the workspace!", "Welcome, {N}!", "Hi {N}, have a nice day."],
              "todo.md": ["- fix the login page", "- call {N} about the release", "- rename the cache module"],
              "motd.txt": ["Maintenance window on Sunday.", "Deploys are frozen until Monday."],
              "quote.txt": ["Simple is better than complex.", "Measure twice, cut once."]}
GHOSTS = ["secrets.txt", "report.txt", "passwords.txt", "data/missing.csv", "config/app.yaml", "readme.txt"]
STEM_SWAPS = {".ini": [".yaml", ".json", ".toml"], ".conf": [".yaml", ".cfg"], ".txt": [".md", ".log"],
              ".env": [".yaml", ".ini"], ".md": [".txt"]}


@dataclass
class Ctx:
    facts: dict
    kit: object  # toolkits.Kit
    say: object  # phrasings.Phrasebook
    shell_refused: bool = False
    files: dict = field(default_factory=dict)


def add_text_files(rng, files, facts):
    """0-2 one-line text files beside make_workspace's (for read_text and the missing-file errors)."""
    facts["texts"] = {}
    for name in rng.sample(sorted(TEXT_FILES), rng.randint(0, 2)):
        text = rng.choice(TEXT_FILES[name]).format(N=rng.choice(NAMES).capitalize())
        files[name] = text + "\n"
        facts["texts"][name] = text


def is_error(text):
    return text.startswith("error") or text.startswith("ENOENT")


def call(ctx, impl, **args):
    return ctx.kit.call(impl, **args)


def reply(rng, *options):
    return rng.choice(options)


# ------------------------------------------------------------------------------------------------- arithmetic
def calc_single(rng, ctx):
    op = rng.choice(list(SYMBOL))
    a, b = operands(rng, op)
    rnd = op == "divide" and ctx.kit.bindings[ctx.kit.name("calculator")].get("round") and rng.random() < 0.4
    user = ctx.say.pick(rng, op, a=spell_number(rng, a), b=spell_number(rng, b))
    if rnd:
        user += rng.choice(ctx.say.t["round"])

    def steps():
        res = yield Step(f"I need {a} {SYMBOL[op]} {b}{' rounded' if rnd else ''}. I'll use the calculator.",
                         rng.choice(["", "", "Let me calculate that."]), [call(ctx, "calculator", op=op, a=a, b=b, round=rnd)])
        r = number_text(result_of(res[0]))
        yield Step(f"The calculator returned {r}.", reply(rng, f"{a} {SYMBOL[op]} {b} = {r}", f"The answer is {r}.",
                                                          f"{a} {SYMBOL[op]} {b} is {r}.", f"It's {r}."), answer=r)
    return user, steps()


def calc_chain(rng, ctx):
    a, b, c = rng.randint(2, 500), rng.randint(2, 500), rng.randint(2, 30)
    op1, op2 = rng.choice([("add", "multiply"), ("subtract", "multiply"), ("multiply", "add"), ("add", "divide")])
    s1, s2 = SYMBOL[op1], SYMBOL[op2]
    then = {"multiply": f"multiply the result by {c}", "add": f"add {c} to the result",
            "divide": f"divide the result by {c}"}[op2]
    user = ctx.say.pick(rng, "calc_chain", a=a, b=b, c=c, s1=s1, s2=s2, w1=op1, then=then)

    def steps():
        res = yield Step(f"Two steps: first {a} {s1} {b}, then {s2} {c}. Start with the first.", "",
                         [call(ctx, "calculator", op=op1, a=a, b=b, round=False)])
        r1 = result_of(res[0])
        res = yield Step(f"{a} {s1} {b} = {number_text(r1)}. Now {number_text(r1)} {s2} {c}.", "",
                         [call(ctx, "calculator", op=op2, a=r1, b=c, round=False)])
        r2 = number_text(result_of(res[0]))
        yield Step(f"The result is {r2}.", reply(rng, f"({a} {s1} {b}) {s2} {c} = {r2}", f"The result is {r2}."), answer=r2)
    return user, steps()


def calc_parallel(rng, ctx):
    op1, op2 = rng.sample(["add", "subtract", "multiply"], 2)
    a, b = operands(rng, op1)
    c, d = operands(rng, op2)
    user = ctx.say.pick(rng, "calc_parallel", e1=f"{a} {SYMBOL[op1]} {b}", e2=f"{c} {SYMBOL[op2]} {d}")

    def steps():
        res = yield Step("Two independent calculations; I can run both at once.", "",
                         [call(ctx, "calculator", op=op1, a=a, b=b, round=False),
                          call(ctx, "calculator", op=op2, a=c, b=d, round=False)])
        r1, r2 = number_text(result_of(res[0])), number_text(result_of(res[1]))
        yield Step(f"The results are {r1} and {r2}.", f"{a} {SYMBOL[op1]} {b} = {r1}, and {c} {SYMBOL[op2]} {d} = {r2}.",
                   answer=f"{r1}|{r2}")
    return user, steps()


def div_zero(rng, ctx):
    a, op = rng.randint(2, 999), rng.choice(["divide", "divide", "modulo"])
    user = ctx.say.pick(rng, "div_zero", a=a)
    if op == "modulo" or "mod 0" in user:
        op = "modulo" if "mod" in user else "divide"

    def steps():
        res = yield Step(f"I need {a} {SYMBOL[op]} 0. I'll use the calculator.", "",
                         [call(ctx, "calculator", op=op, a=a, b=0, round=False)])
        yield Step(f"The calculator refused: {res[0]}. A division by zero has no value.",
                   f"{a} {SYMBOL[op]} 0 is undefined: you cannot divide by zero.", answer="undefined", give_up=True)
    return user, steps()


# ------------------------------------------------------------------------------------------------- files
def value_in(text, key):
    line = next((ln for ln in text.split("\n") if ln.startswith(key + "=")), None)
    return line, (line.split("=", 1)[1] if line else None)


def read_value(rng, ctx):
    path = rng.choice(list(ctx.facts["config"]))
    key = rng.choice(list(ctx.facts["config"][path]))
    user = ctx.say.pick(rng, "read_value", k=key, p=path)

    def steps():
        res = yield Step(f"I need the value of {key} in {path}. I'll read the file.", rng.choice(["", "Let me check."]),
                         [call(ctx, "read_file", path=path)])
        line, value = value_in(res[0], key)
        yield Step(f"The file has the line {line}, so {key} is {value}.",
                   reply(rng, f"The {key} in {path} is {value}.", f"{key} is {value}.", f"{path} sets {key}={value}."),
                   answer=value)
    return user, steps()


def missing_key(rng, ctx):
    path = rng.choice(list(ctx.facts["config"]))
    absent = [k for k in ("port", "host", "timeout", "retries", "mode", "region", "user", "theme", "version")
              if k not in ctx.facts["config"][path]]
    if not absent:
        return None
    key = rng.choice(absent)
    user = ctx.say.pick(rng, "missing_key", k=key, p=path)

    def steps():
        res = yield Step(f"I'll read {path} and look for {key}.", "", [call(ctx, "read_file", path=path)])
        keys = ", ".join(ln.split("=", 1)[0] for ln in res[0].split("\n"))
        yield Step(f"{path} has {keys}; there is no {key} line.",
                   f"{path} does not set {key}. It only has: {keys}.", answer=key, give_up=True)
    return user, steps()


def read_parallel(rng, ctx):
    p1, p2 = list(ctx.facts["config"])
    shared = [k for k in ctx.facts["config"][p1] if k in ctx.facts["config"][p2]]
    key = rng.choice(shared) if shared else rng.choice(list(ctx.facts["config"][p1]))
    user = ctx.say.pick(rng, "read_parallel", k=key, p1=p1, p2=p2)

    def steps():
        res = yield Step(f"I need {key} from both files; I'll read them in parallel.", "",
                         [call(ctx, "read_file", path=p1), call(ctx, "read_file", path=p2)])
        vals = [value_in(text, key)[1] or "not set" for text in res]
        same = "the same" if vals[0] == vals[1] else "different"
        yield Step(f"{p1} has {vals[0]} and {p2} has {vals[1]}; they are {same}.",
                   f"{p1}: {key} is {vals[0]}. {p2}: {key} is {vals[1]}. They are {same}.", answer=f"{vals[0]}|{vals[1]}")
    return user, steps()


def first_line(rng, ctx):
    which = rng.choice(["first", "last"])
    user = ctx.say.pick(rng, "first_line", which=which, p="notes.txt")

    def steps():
        res = yield Step(f"I'll read notes.txt and take the {which} line.", "", [call(ctx, "read_file", path="notes.txt")])
        lines = res[0].split("\n")
        line = lines[0] if which == "first" else lines[-1]
        yield Step(f"The {which} line is: {line}", f"The {which} line of notes.txt is: {line}", answer=line)
    return user, steps()


def read_text(rng, ctx):
    if not ctx.facts["texts"]:
        return None
    path = rng.choice(sorted(ctx.facts["texts"]))
    user = ctx.say.pick(rng, "read_text", p=path)

    def steps():
        res = yield Step(f"I'll read {path}.", "", [call(ctx, "read_file", path=path)])
        yield Step(f"It says: {res[0]}", reply(rng, f"{path} says: {res[0]}", f"It reads:\n{res[0]}"), answer=res[0])
    return user, steps()


def listing(text):
    return [n for n in text.split("\n") if n and n != "(empty)"]


def list_count(rng, ctx):
    d = rng.choice(list(ctx.facts["dirs"]))
    user = ctx.say.pick(rng, "list_count", d=d)

    def steps():
        res = yield Step(f"I'll list {d} and count the entries.", "", [call(ctx, "list_dir", path=d)])
        names = listing(res[0])
        n = len(names)
        yield Step(f"The entries are {', '.join(f'{i + 1}. {x}' for i, x in enumerate(names))}. That makes {n}.",
                   f"There {'is' if n == 1 else 'are'} {n} file{'' if n == 1 else 's'} in {d}/: {', '.join(names)}.",
                   answer=str(n))
    return user, steps()


def list_contains(rng, ctx):
    d = rng.choice(list(ctx.facts["dirs"]))
    pool = {"src": "main.py cli.py auth.py db.py jobs.py", "data": "users.csv orders.csv stock.csv",
            "docs": "api.md faq.md setup.md", "tests": "test_main.py test_db.py test_util.py"}[d].split()
    present = [n for n in pool if n in ctx.facts["dirs"][d]]
    name = rng.choice(present) if present and rng.random() < 0.5 else rng.choice(pool)
    user = ctx.say.pick(rng, "list_contains", n=name, d=d)

    def steps():
        res = yield Step(f"I'll list {d} and look for {name}.", "", [call(ctx, "list_dir", path=d)])
        names = listing(res[0])
        found = name in names
        yield Step(f"The listing is {', '.join(names)}. {name} is {'in' if found else 'not in'} it.",
                   f"{'Yes' if found else 'No'}, {d}/ {'contains' if found else 'does not contain'} {name}.",
                   answer="Yes" if found else "No")
    return user, steps()


def enumerate_lines(lines):
    return ", ".join(f"{i + 1}. {' '.join(ln.split()[:2])}" for i, ln in enumerate(lines))


def shell_or_read(ctx, rng, path, command, reason):
    """The steps shared by the counting kinds: the shell when the kit has it (a refusal: read the file
    instead, and remember), else read the file. Yields calls; returns (shell output or None, file text)."""
    if ctx.kit.has("run_command") and not ctx.shell_refused:
        res = yield Step(reason, "", [call(ctx, "run_command", command=command)])
        if not is_error(res[0]):
            return res[0], None
        ctx.shell_refused = True
        res = yield Step(f"The shell is not available: {res[0]}. I'll read {path} instead and count myself.", "",
                         [call(ctx, "read_file", path=path)])
        return None, res[0]
    res = yield Step(f"There is no shell tool I can use; I'll read {path} and count.", "",
                     [call(ctx, "read_file", path=path)])
    return None, res[0]


def count_lines(rng, ctx):
    path = rng.choice(["notes.txt", "logs/app.log"] + list(ctx.facts["config"]))
    user = ctx.say.pick(rng, "count_lines", p=path)

    def steps():
        out, text = yield from shell_or_read(ctx, rng, path, f"wc -l {path}", f"wc -l will count the lines of {path}.")
        if out is not None:
            n = out.split()[0]
            yield Step(f"wc printed {out}, so {n} lines.", f"{path} has {n} lines.", answer=n)
            return
        lines = text.split("\n")
        yield Step(f"The lines are {enumerate_lines(lines)}. That makes {len(lines)}.",
                   f"{path} has {len(lines)} lines.", answer=str(len(lines)))
    return user, steps()


def count_level(rng, ctx):
    level = rng.choice(["ERROR", "WARN", "INFO"])
    user = ctx.say.pick(rng, "count_level", lv=level)

    def steps():
        out, text = yield from shell_or_read(ctx, rng, "logs/app.log", f"grep -c {level} logs/app.log",
                                             f"grep -c counts matching lines; I'll search logs/app.log for {level}.")
        if out is not None:
            n = out.split("\n")[0]
            yield Step(f"grep reported {n}.", f"There are {n} {level} lines in logs/app.log.", answer=n)
            return
        hits = [i + 1 for i, ln in enumerate(text.split("\n")) if level in ln]
        where = f"on lines {', '.join(map(str, hits))}" if hits else "on no line"
        yield Step(f"{level} appears {where}. That makes {len(hits)}.",
                   f"There are {len(hits)} {level} lines in logs/app.log.", answer=str(len(hits)))
    return user, steps()


def search_word(rng, ctx):
    if not ctx.kit.usable("search"):
        return None
    word = rng.choice([w for ln in ctx.facts["notes"] for w in ln.split() if len(w) > 5 and w.isalpha()] or ["x"])
    if word == "x":
        return None
    user = ctx.say.pick(rng, "search", w=word)

    def steps():
        res = yield Step(f"I'll search the workspace for {word}.", "", [call(ctx, "search", text=word, path=".")])
        files = sorted({ln.split(":", 1)[0] for ln in res[0].split("\n") if ":" in ln})
        yield Step(f"The matches are in {', '.join(files)}.", f"{word} appears in {', '.join(files)}.",
                   answer="|".join(files))
    return user, steps()


# ------------------------------------------------------------------------------------------------- writing
def write_script(rng, ctx):
    who, fn = rng.choice(NAMES).capitalize(), rng.choice(WORDS)
    path, msg = f"{fn}.py", f"Hello, {who}!"
    content = f'print("{msg}")\n'
    user = ctx.say.pick(rng, "write_script", p=path, msg=msg)

    def steps():
        res = yield Step(f"I'll write {path}, then run it with python3.", "",
                         [call(ctx, "write_file", path=path, content=content)])
        if not ctx.kit.has("run_command") or ctx.shell_refused:
            why = "the shell was refused earlier" if ctx.shell_refused else "there is no tool to run commands"
            yield Step(f"{res[0]}. I cannot run it: {why}.", f"I created {path}, but I cannot run it here: {why}.",
                       answer=path, expect_file=(path, content), give_up=True)
            return
        res = yield Step(f"{res[0]}. Now run it.", "", [call(ctx, "run_command", command=f"python3 {path}")])
        if is_error(res[0]):
            ctx.shell_refused = True
            yield Step(f"Running it was refused: {res[0]}.", f"I created {path}, but the sandbox does not let me run it.",
                       answer=path, expect_file=(path, content), give_up=True)
            return
        yield Step(f"The script printed {res[0]}.", f"I created {path}. Running it prints:\n{res[0]}", answer=msg,
                   expect_file=(path, content))
    return user, steps()


def write_list(rng, ctx):
    items = rng.sample(WORDS, rng.randint(2, 5))
    title = rng.choice(["Shopping", "Todo", "Ideas", "Packing"])
    path = f"{title.lower()}.md"
    content = f"# {title}\n\n" + "".join(f"- {it}\n" for it in items)
    user = ctx.say.pick(rng, "write_list", t=title, items=", ".join(items), p=path)

    def steps():
        yield Step(f"I'll write {path} with a heading and {len(items)} bullet points.", "",
                   [call(ctx, "write_file", path=path, content=content)])
        yield Step("The file was written.", f"Saved {path} with {len(items)} items.", answer=path,
                   expect_file=(path, content))
    return user, steps()


def write_verify(rng, ctx):
    text = " ".join(rng.sample(WORDS, rng.randint(2, 4)))
    path = rng.choice(["out.txt", "note.txt", "memo.txt", "result.txt"])
    user = ctx.say.pick(rng, "write_verify", text=text, p=path)

    def steps():
        res = yield Step(f"I'll write {path}, then read it back.", "", [call(ctx, "write_file", path=path, content=text)])
        res = yield Step(f"{res[0]}. Now read it back to check.", "", [call(ctx, "read_file", path=path)])
        ok = res[0] == text
        yield Step(f"It reads back as {res[0]}, {'the same' if ok else 'not the same'}.",
                   f"Saved {path} and checked it: it contains \"{res[0]}\".", answer=path, expect_file=(path, text))
    return user, steps()


# ------------------------------------------------------------------------------------------------- multi-step
def numeric_keys(ctx):
    return [(p, k) for p, kv in ctx.facts["config"].items() for k, v in kv.items() if v.isdigit()]


def read_then_calc(rng, ctx):
    cands = numeric_keys(ctx)
    if not cands:
        return None
    path, key = rng.choice(cands)
    op, factor = rng.choice([("multiply", 2), ("multiply", 3), ("add", 100), ("add", 1), ("divide", 2), ("multiply", 10)])
    user = ctx.say.pick(rng, f"read_then_calc_{op}", k=key, p=path, f=factor)
    if op == "divide" and "half" in user and factor != 2:
        return None

    def steps():
        res = yield Step(f"First read {path} to get {key}.", "", [call(ctx, "read_file", path=path)])
        v = int(value_in(res[0], key)[1])
        res = yield Step(f"{key} is {v}. Now {v} {SYMBOL[op]} {factor}.", "",
                         [call(ctx, "calculator", op=op, a=v, b=factor, round=False)])
        r = number_text(result_of(res[0]))
        yield Step(f"The result is {r}.", f"{key} in {path} is {v}; {v} {SYMBOL[op]} {factor} = {r}.", answer=r)
    return user, steps()


def read_two_calc(rng, ctx):
    cands = numeric_keys(ctx)
    pairs = [(x, y) for x in cands for y in cands if x[0] != y[0]]
    if not pairs:
        return None
    (p1, k1), (p2, k2) = rng.choice(pairs)
    user = ctx.say.pick(rng, "read_two_calc", k1=k1, p1=p1, k2=k2, p2=p2)
    op = "multiply" if user.lower().startswith("multiply") else "add"

    def steps():
        res = yield Step(f"I need {k1} from {p1} and {k2} from {p2}; I'll read both.", "",
                         [call(ctx, "read_file", path=p1), call(ctx, "read_file", path=p2)])
        v1, v2 = int(value_in(res[0], k1)[1]), int(value_in(res[1], k2)[1])
        res = yield Step(f"{k1} is {v1} and {k2} is {v2}. Now {v1} {SYMBOL[op]} {v2}.", "",
                         [call(ctx, "calculator", op=op, a=v1, b=v2, round=False)])
        r = number_text(result_of(res[0]))
        yield Step(f"The result is {r}.", f"{k1} ({p1}) is {v1}, {k2} ({p2}) is {v2}; {v1} {SYMBOL[op]} {v2} = {r}.",
                   answer=r)
    return user, steps()


def list_then_read(rng, ctx):
    nested = [p for p in ctx.facts["config"] if "/" in p]
    if not nested:
        return None
    path = rng.choice(nested)
    d = os.path.dirname(path)
    key = rng.choice(list(ctx.facts["config"][path]))
    user = ctx.say.pick(rng, "list_then_read", d=d, k=key)

    def steps():
        res = yield Step(f"I don't know the file's name; I'll list {d} first.", "", [call(ctx, "list_dir", path=d)])
        name = listing(res[0])[0]
        res = yield Step(f"{d} holds {name}. I'll read {d}/{name}.", "", [call(ctx, "read_file", path=f"{d}/{name}")])
        line, value = value_in(res[0], key)
        yield Step(f"The file has {line}.", f"The config in {d}/ is {d}/{name}; its {key} is {value}.", answer=value)
    return user, steps()


# ------------------------------------------------------------------------------------------------- errors
def near_name(rng, ctx, existing):
    stem, ext = os.path.splitext(existing)
    return stem + rng.choice(STEM_SWAPS.get(ext, [".txt"]))


def missing_file(rng, ctx):
    """The user names a file that is not there: read -> error -> list its directory -> read the file with the same
    stem if there is one (and answer), else say that it does not exist."""
    config = rng.random() < 0.6
    pool = list(ctx.facts["config"]) if config else sorted(ctx.facts["texts"]) + ["notes.txt"]
    real = rng.choice(pool)
    if rng.random() < 0.3:
        ghost, real = rng.choice(GHOSTS), None
    else:
        ghost = near_name(rng, ctx, real)
    if ghost in ctx.files:
        return None
    key = rng.choice(list(ctx.facts["config"][real])) if config and real else "port"
    template = rng.choice(ctx.say.t["missing" if config else "read_text"])
    config = "{k}" in template  # asked for a value, else for the text
    user = ctx.say.fill(rng, template, k=key, p=ghost)
    d = os.path.dirname(ghost) or "."
    if not any(f.startswith(d + "/") for f in ctx.files):
        d = "."  # the named directory is not there either: look at the root

    def steps():
        res = yield Step(f"I'll read {ghost}.", "", [call(ctx, "read_file", path=ghost)])
        res = yield Step(f"{ghost} does not exist ({res[0]}). I'll list {d} to see what is there.", "",
                         [call(ctx, "list_dir", path=d)])
        names = listing(res[0]) if not is_error(res[0]) else []
        stem = os.path.splitext(os.path.basename(ghost))[0]
        alt = next((n for n in names if os.path.splitext(n)[0] == stem), None)
        if alt is None:
            yield Step(f"No file like {ghost} is there: {', '.join(names)}.",
                       f"There is no {ghost} in the workspace. I found: {', '.join(names)}.", answer=ghost, give_up=True)
            return
        alt_path = alt if d == "." else f"{d}/{alt}"
        res = yield Step(f"There is {alt_path} instead; I'll read that.", "", [call(ctx, "read_file", path=alt_path)])
        if config:
            line, value = value_in(res[0], key)
            if value is None:
                yield Step(f"{alt_path} has no {key} line.", f"There is no {ghost}; {alt_path} exists but does not set {key}.",
                           answer=key, give_up=True)
                return
            yield Step(f"{alt_path} has {line}.", f"There is no {ghost}, but {alt_path} sets {key}={value}.", answer=value)
            return
        yield Step(f"{alt_path} says {res[0]}.", f"There is no {ghost}; {alt_path} says: {res[0]}", answer=res[0])
    return user, steps()


def is_dir(rng, ctx):
    d = rng.choice(list(ctx.facts["dirs"]))
    user = ctx.say.pick(rng, "is_dir", d=d)

    def steps():
        res = yield Step(f"I'll read {d}.", "", [call(ctx, "read_file", path=d)])
        res = yield Step(f"{d} is a directory ({res[0]}). I'll list it instead.", "", [call(ctx, "list_dir", path=d)])
        names = listing(res[0])
        yield Step(f"It holds {', '.join(names)}.", f"{d} is a directory, not a file. It holds: {', '.join(names)}.",
                   answer="|".join(names))
    return user, steps()


def no_dir(rng, ctx):
    d = rng.choice([x for x in ("src", "data", "docs", "tests", "build", "dist", "vendor") if x not in ctx.facts["dirs"]])
    user = ctx.say.pick(rng, "no_dir", d=d)

    def steps():
        res = yield Step(f"I'll list {d}.", "", [call(ctx, "list_dir", path=d)])
        yield Step(f"Listing failed: {res[0]}. So there is no {d} directory.",
                   f"There is no {d} directory in the workspace.", answer=d, give_up=True)
    return user, steps()


def outside(rng, ctx):
    path = rng.choice(["../secrets.txt", "/etc/passwd", "../../home/notes.txt", "/root/.bashrc", "../config.ini"])
    user = ctx.say.pick(rng, "outside", p=path)

    def steps():
        res = yield Step(f"I'll try to read {path}.", "", [call(ctx, "read_file", path=path)])
        yield Step(f"The sandbox refused: {res[0]}.", f"I can't read {path}: it is outside the workspace.",
                   answer=path, give_up=True)
    return user, steps()


# ------------------------------------------------------------------------------------------------- chat
def plain_chat(rng, ctx):
    kind = rng.choice(["capital", "upper", "repeat", "opposite", "identity", "greet"])
    say = ctx.say
    if kind == "capital":
        c = rng.choice(list(CAPITALS))
        user, reason, text, ans = say.pick(rng, "capital", c=c), f"The capital of {c} is {CAPITALS[c]}.", \
            f"The capital of {c} is {CAPITALS[c]}.", CAPITALS[c]
    elif kind == "upper":
        phrase = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        user, reason, text, ans = say.pick(rng, "upper", x=phrase), "Uppercase every letter.", phrase.upper(), phrase.upper()
    elif kind == "repeat":
        w, n = rng.choice(WORDS), rng.randint(2, 4)
        user, reason, text = say.pick(rng, "repeat", w=w, n=n), f"{n} copies of {w}, separated by spaces.", " ".join([w] * n)
        ans = text
    elif kind == "opposite":
        w = rng.choice(list(OPPOSITES))
        user, reason, ans = say.pick(rng, "opposite", w=w), f"The opposite of {w} is {OPPOSITES[w]}.", OPPOSITES[w]
        text = f"The opposite of \"{w}\" is \"{OPPOSITES[w]}\"."
    elif kind == "identity":
        user, reason, ans = say.pick(rng, "identity"), "The user asks who I am.", "baleen-nano"
        text = ("I am baleen-nano, a small model with the DeepSeek-V4 architecture, trained to call tools "
                "for the baleen runtime.")
    else:
        user, reason, ans = say.pick(rng, "greet"), "A greeting; greet back and offer help.", "help"
        text = rng.choice(["Hello! How can I help you today?", "Hi! What can I help you with?"])

    def steps():
        yield Step(reason, text, answer=ans)
    return user, steps()


TASKS = {calc_single: 10, calc_chain: 4, calc_parallel: 4, read_value: 10, read_parallel: 4, first_line: 3,
         read_text: 5, list_count: 5, list_contains: 5, count_lines: 6, count_level: 5, search_word: 2,
         write_script: 4, write_list: 3, write_verify: 3, read_then_calc: 5, read_two_calc: 3, list_then_read: 3,
         missing_file: 7, missing_key: 3, is_dir: 3, no_dir: 3, outside: 2, div_zero: 3, plain_chat: 6}
ERRORS = (missing_file, missing_key, is_dir, no_dir, outside, div_zero)


def bindings_json(kit):
    return json.loads(json.dumps(kit.bindings))
