"""Task builders: each makes one user turn and the assistant steps that solve it.

A builder is called as `builder(rng, facts)` and returns (user_text, steps), where `steps` is a Python
generator: it yields `Step`s; after a step with calls, the driver sends back the list of tool results
(strings, in call order). The last step has no calls and carries the checkable answer.
"""
import json
from dataclasses import dataclass, field

from tools import number_text
from workspace import NAMES, WORDS


@dataclass
class Step:
    reasoning: str
    content: str = ""
    calls: list = field(default_factory=list)  # [(name, args dict)]
    answer: str | None = None  # final steps: the text the reply must contain
    expect_file: tuple | None = None  # final steps: (path, exact content) the workspace must then hold
    give_up: bool = False  # final steps (v6 tool errors): the reply says why the task cannot be done


SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "^", "modulo": "mod"}
VERB = {"add": ["What is {a} + {b}?", "Add {a} and {b}.", "What's the sum of {a} and {b}?"],
        "subtract": ["What is {a} - {b}?", "Subtract {b} from {a}.", "What is {a} minus {b}?"],
        "multiply": ["What is {a} * {b}?", "Multiply {a} by {b}.", "What is {a} times {b}?"],
        "divide": ["What is {a} / {b}?", "Divide {a} by {b}.", "What is {a} divided by {b}?"],
        "power": ["What is {a} to the power of {b}?", "Compute {a}^{b}."],
        "modulo": ["What is {a} mod {b}?", "What is the remainder of {a} divided by {b}?"]}
PREFACE = ["Let me check.", "I'll use a tool for that.", "Let me look.", "One moment."]


def operands(rng, op):
    if op == "power":
        return rng.randint(2, 12), rng.randint(2, 4)
    if op in ("divide", "modulo"):
        b = rng.randint(2, 40)
        return (b * rng.randint(2, 90) if rng.random() < 0.5 else rng.randint(10, 5000)), b
    if rng.random() < 0.25:
        return round(rng.uniform(1, 500), rng.choice([1, 2])), round(rng.uniform(1, 100), 1)
    return rng.randint(2, 9999), rng.randint(2, 999)


def calc_args(op, a, b, rnd):
    return {"op": op, "a": a, "b": b, "round": rnd}


def result_of(text):
    return json.loads(text)["result"]


def calc_single(rng, facts):
    op = rng.choice(list(VERB))
    a, b = operands(rng, op)
    rnd = op == "divide" and rng.random() < 0.4
    user = rng.choice(VERB[op]).format(a=a, b=b) + (" Round to the nearest whole number." if rnd else "")

    def steps():
        res = yield Step(f"I need {a} {SYMBOL[op]} {b}{' rounded' if rnd else ''}. I'll use the calculator.",
                         rng.choice(["", "", rng.choice(PREFACE)]), [("calculator", calc_args(op, a, b, rnd))])
        r = number_text(result_of(res[0]))
        yield Step(f"The calculator returned {r}.", f"{a} {SYMBOL[op]} {b} = {r}" if not rnd else
                   f"{a} / {b} is about {r} when rounded.", answer=r)
    return user, steps()


def calc_chain(rng, facts):
    a, b, c = rng.randint(2, 500), rng.randint(2, 500), rng.randint(2, 30)
    op1, op2 = rng.choice([("add", "multiply"), ("subtract", "multiply"), ("multiply", "add"), ("add", "divide")])
    s1, s2 = SYMBOL[op1], SYMBOL[op2]
    then = {"multiply": f"multiply the result by {c}", "add": f"add {c} to the result",
            "divide": f"divide the result by {c}"}[op2]
    user = rng.choice([f"Compute ({a} {s1} {b}) {s2} {c}.", f"What is ({a} {s1} {b}) {s2} {c}?",
                       f"First {op1} {a} and {b}, then {then}. What do you get?"])

    def steps():
        res = yield Step(f"Two steps: first {a} {s1} {b}, then {s2} {c}. Start with the first.", "",
                         [("calculator", calc_args(op1, a, b, False))])
        r1 = result_of(res[0])
        res = yield Step(f"{a} {s1} {b} = {number_text(r1)}. Now {number_text(r1)} {s2} {c}.", "",
                         [("calculator", calc_args(op2, r1, c, False))])
        r2 = number_text(result_of(res[0]))
        yield Step(f"The result is {r2}.", f"({a} {s1} {b}) {s2} {c} = {r2}", answer=r2)
    return user, steps()


def calc_parallel(rng, facts):
    (op1, op2) = rng.sample(["add", "subtract", "multiply"], 2)
    a, b = operands(rng, op1)
    c, d = operands(rng, op2)
    user = f"Please compute {a} {SYMBOL[op1]} {b} and {c} {SYMBOL[op2]} {d}."

    def steps():
        res = yield Step("Two independent calculations; I can run both at once.", "",
                         [("calculator", calc_args(op1, a, b, False)), ("calculator", calc_args(op2, c, d, False))])
        r1, r2 = number_text(result_of(res[0])), number_text(result_of(res[1]))
        yield Step(f"The results are {r1} and {r2}.",
                   f"{a} {SYMBOL[op1]} {b} = {r1}, and {c} {SYMBOL[op2]} {d} = {r2}.", answer=f"{r1}|{r2}")
    return user, steps()


def read_value(rng, facts):
    path = rng.choice(list(facts["config"]))
    key = rng.choice(list(facts["config"][path]))
    user = rng.choice(["What is the {k} setting in {p}?", "Which {k} does {p} set?", "Read {p} and tell me the {k}.",
                       "What value does {k} have in {p}?"]).format(k=key, p=path)

    def steps():
        res = yield Step(f"I need the value of {key} in {path}. I'll read the file.",
                         rng.choice(["", rng.choice(PREFACE)]), [("read_file", {"path": path})])
        line = next((ln for ln in res[0].split("\n") if ln.startswith(key + "=")), None)
        value = line.split("=", 1)[1] if line else "missing"
        yield Step(f"The file has the line {line}, so {key} is {value}.", f"The {key} in {path} is {value}.",
                   answer=value)
    return user, steps()


def read_parallel(rng, facts):
    p1, p2 = list(facts["config"])
    shared = [k for k in facts["config"][p1] if k in facts["config"][p2]]
    key = rng.choice(shared) if shared else rng.choice(list(facts["config"][p1]))
    user = f"Compare the {key} in {p1} and {p2}."

    def steps():
        res = yield Step(f"I need {key} from both files; I'll read them in parallel.", "",
                         [("read_file", {"path": p1}), ("read_file", {"path": p2})])
        vals = []
        for text in res:
            line = next((ln for ln in text.split("\n") if ln.startswith(key + "=")), None)
            vals.append(line.split("=", 1)[1] if line else "not set")
        same = "the same" if vals[0] == vals[1] else "different"
        yield Step(f"{p1} has {vals[0]} and {p2} has {vals[1]}; they are {same}.",
                   f"{p1}: {key} is {vals[0]}. {p2}: {key} is {vals[1]}. They are {same}.",
                   answer=f"{vals[0]}|{vals[1]}")
    return user, steps()


def read_first_line(rng, facts):
    which = rng.choice(["first", "last"])
    user = rng.choice([f"What is the {which} line of notes.txt?", f"Show me the {which} note in notes.txt."])

    def steps():
        res = yield Step(f"I'll read notes.txt and take the {which} line.", "", [("read_file", {"path": "notes.txt"})])
        lines = res[0].split("\n")
        line = lines[0] if which == "first" else lines[-1]
        yield Step(f"The {which} line is: {line}", f"The {which} line of notes.txt is: {line}", answer=line)
    return user, steps()


def list_count(rng, facts):
    d = rng.choice(list(facts["dirs"]))
    user = rng.choice([f"How many files are in {d}/?", f"Count the files in the {d} directory.",
                       f"How many entries does {d} have?"])

    def steps():
        res = yield Step(f"I'll list {d} and count the entries.", "", [("list_dir", {"path": d})])
        names = [n for n in res[0].split("\n") if n and n != "(empty)"]
        enum = ", ".join(f"{i + 1}. {n}" for i, n in enumerate(names))
        n = len(names)
        yield Step(f"The entries are {enum}. That makes {n}.",
                   f"There {'is' if n == 1 else 'are'} {n} file{'' if n == 1 else 's'} in {d}/: "
                   f"{', '.join(names)}.", answer=str(n))
    return user, steps()


def list_contains(rng, facts):
    d = rng.choice(list(facts["dirs"]))
    pool = {"src": "main.py cli.py auth.py db.py", "data": "users.csv orders.csv",
            "docs": "api.md faq.md", "tests": "test_main.py test_db.py"}[d].split()
    name = rng.choice(pool)
    user = f"Is there a file called {name} in {d}?"

    def steps():
        res = yield Step(f"I'll list {d} and look for {name}.", "", [("list_dir", {"path": d})])
        found = name in res[0].split("\n")
        yes = "Yes" if found else "No"
        yield Step(f"{name} is {'in' if found else 'not in'} the listing.",
                   f"{yes}, {d}/ {'contains' if found else 'does not contain'} {name}.", answer=yes)
    return user, steps()


def cmd_wc(rng, facts):
    path = rng.choice(["notes.txt", "logs/app.log"] + list(facts["config"]))
    user = rng.choice([f"How many lines are in {path}?", f"Count the lines of {path}."])

    def steps():
        res = yield Step(f"wc -l will count the lines of {path}.", "", [("run_command", {"command": f"wc -l {path}"})])
        n = res[0].split()[0]
        yield Step(f"wc printed {res[0]}, so {n} lines.", f"{path} has {n} lines.", answer=n)
    return user, steps()


def cmd_grep(rng, facts):
    level = rng.choice(["ERROR", "WARN", "INFO"])
    user = rng.choice([f"How many {level} lines are in logs/app.log?", f"Count the {level} entries in the app log."])

    def steps():
        res = yield Step(f"grep -c counts matching lines; I'll search logs/app.log for {level}.", "",
                         [("run_command", {"command": f"grep -c {level} logs/app.log"})])
        n = res[0].split("\n")[0]
        yield Step(f"grep reported {n}.", f"There are {n} {level} lines in logs/app.log.", answer=n)
    return user, steps()


def write_script(rng, facts):
    who, fn = rng.choice(NAMES).capitalize(), rng.choice(WORDS)
    path = f"{fn}.py"
    if rng.random() < 0.5:
        content = f'print("Hello, {who}!")\n'
        expected = f"Hello, {who}!"
        user = f'Create {path} that prints "Hello, {who}!" and run it.'
    else:
        k = rng.randint(2, 9)
        content = (f'def {fn}(name):\n    """Greets someone {k} times."""\n    return " ".join([f"hi {{name}}"] * {k})\n\n\n'
                   f'print({fn}("{who}"))\n')
        expected = " ".join([f"hi {who}"] * k)
        user = (f"Write a Python script {path} with a function {fn}(name) that returns 'hi <name>' repeated {k} times "
                f"joined by spaces, call it with \"{who}\", then run the script.")

    def steps():
        res = yield Step(f"I'll write {path}, then run it with python3.", "",
                         [("write_file", {"path": path, "content": content})])
        res = yield Step(f"{res[0]}. Now run it.", "", [("run_command", {"command": f"python3 {path}"})])
        yield Step(f"The script printed {res[0]}.", f"I created {path}. Running it prints:\n{res[0]}",
                   answer=expected, expect_file=(path, content))
    return user, steps()


def write_list(rng, facts):
    items = rng.sample(WORDS, rng.randint(2, 5))
    title = rng.choice(["Shopping", "Todo", "Ideas", "Packing"])
    path = f"{title.lower()}.md"
    content = f"# {title}\n\n" + "".join(f"- {it}\n" for it in items)
    user = f"Save a markdown list titled \"{title}\" with the items {', '.join(items)} to {path}."

    def steps():
        yield Step(f"I'll write {path} with a heading and {len(items)} bullet points.", "",
                         [("write_file", {"path": path, "content": content})])
        yield Step("The file was written.", f"Saved {path} with {len(items)} items.", answer=path,
                   expect_file=(path, content))
    return user, steps()


def read_then_calc(rng, facts):
    cands = [(p, k) for p, kv in facts["config"].items() for k, v in kv.items() if v.isdigit()]
    if not cands:
        return calc_single(rng, facts)
    path, key = rng.choice(cands)
    op, factor = rng.choice([("multiply", 2), ("multiply", 3), ("add", 100), ("add", 1), ("divide", 2)])
    user = {"multiply": f"Read {key} from {path} and multiply it by {factor}.",
            "add": f"What do you get if you add {factor} to the {key} in {path}?",
            "divide": f"Take the {key} from {path} and divide it by {factor}."}[op]

    def steps():
        res = yield Step(f"First read {path} to get {key}.", "", [("read_file", {"path": path})])
        line = next(ln for ln in res[0].split("\n") if ln.startswith(key + "="))
        v = int(line.split("=", 1)[1])
        res = yield Step(f"{key} is {v}. Now {v} {SYMBOL[op]} {factor}.", "",
                         [("calculator", calc_args(op, v, factor, False))])
        r = number_text(result_of(res[0]))
        yield Step(f"The result is {r}.", f"{key} in {path} is {v}; {v} {SYMBOL[op]} {factor} = {r}.", answer=r)
    return user, steps()


def no_call_with_tools(rng, facts):
    user, steps = plain_chat(rng, facts)
    return user, steps


CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin",
            "Canada": "Ottawa", "Egypt": "Cairo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
            "Poland": "Warsaw", "Greece": "Athens", "Chile": "Santiago", "India": "New Delhi", "China": "Beijing",
            "Brazil": "Brasilia", "Mexico": "Mexico City", "Portugal": "Lisbon", "Sweden": "Stockholm",
            "Ireland": "Dublin", "Austria": "Vienna", "Finland": "Helsinki", "Vietnam": "Hanoi", "Cuba": "Havana"}
OPPOSITES = {"hot": "cold", "up": "down", "big": "small", "fast": "slow", "open": "closed", "light": "dark",
             "early": "late", "full": "empty", "happy": "sad", "old": "new", "hard": "soft", "left": "right"}


def plain_chat(rng, facts):
    kind = rng.choice(["capital", "upper", "repeat", "opposite", "identity", "greet"])
    if kind == "capital":
        c = rng.choice(list(CAPITALS))
        user, reason, reply, ans = (f"What is the capital of {c}?", f"The capital of {c} is {CAPITALS[c]}.",
                                    f"The capital of {c} is {CAPITALS[c]}.", CAPITALS[c])
    elif kind == "upper":
        phrase = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        user, reason, reply, ans = (f"Write \"{phrase}\" in capital letters.", "Just uppercase every letter.",
                                    phrase.upper(), phrase.upper())
    elif kind == "repeat":
        w, n = rng.choice(WORDS), rng.randint(2, 4)
        user, reason, reply, ans = (f"Repeat the word {w} {n} times.", f"{n} copies of {w}, separated by spaces.",
                                    " ".join([w] * n), " ".join([w] * n))
    elif kind == "opposite":
        w = rng.choice(list(OPPOSITES))
        user, reason, reply, ans = (f"What is the opposite of \"{w}\"?", f"The opposite of {w} is {OPPOSITES[w]}.",
                                    f"The opposite of \"{w}\" is \"{OPPOSITES[w]}\".", OPPOSITES[w])
    elif kind == "identity":
        user = rng.choice(["Who are you?", "What model are you?", "Introduce yourself."])
        reason, ans = "The user asks who I am.", "baleen-nano"
        reply = ("I am baleen-nano, a small model with the DeepSeek-V4 architecture, trained to call tools "
                 "for the baleen runtime.")
    else:
        user = rng.choice(["Hi!", "Hello", "Hey there", "Good morning!"])
        reason, reply, ans = "A greeting; greet back and offer help.", "Hello! How can I help you today?", "help"

    def steps():
        yield Step(reason, reply, answer=ans)
    return user, steps()


TOOL_TASKS = {calc_single: 12, calc_chain: 6, calc_parallel: 6, read_value: 10, read_parallel: 5,
              read_first_line: 5, list_count: 8, list_contains: 4, cmd_wc: 6, cmd_grep: 6, write_script: 6,
              write_list: 4, read_then_calc: 5, no_call_with_tools: 5}
