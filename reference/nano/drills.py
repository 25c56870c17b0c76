"""Copy drills: auxiliary training conversations (train split only) whose replies are mostly copied values.

Every task kind asks the model to carry a value from a tool result or the question into its answer. In the
task data the copied tokens are a small part of each reply (most of it is predictable phrasing), so a
20M-parameter model learns the phrasing long before it learns to copy: the first runs wrote well-formed
answers with wrong numbers. Drills make copying most of the loss: repeat a list of values, look a key up
in key=value lines, read a number back from a tool-style JSON result. They draw from their own
`random.Random`, so adding them leaves the task conversations and the eval split unchanged.
"""
import json

from tools import TOOLS, number_text
from workspace import NAMES, WORDS, config_values


def value(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randint(0, 10 ** rng.randint(1, 7)))
    if kind == 1:
        return number_text(round(rng.uniform(0, 10 ** rng.randint(1, 5)), rng.randint(1, 4)))
    if kind == 2:
        return rng.choice(WORDS)
    if kind == 3:
        return rng.choice(NAMES).capitalize()
    if kind == 4:
        return f"{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
    return rng.choice(list(config_values(rng).values()))


def repeat(rng):
    items = " ".join(value(rng) for _ in range(rng.randint(1, 8)))
    # No "Say {x}": v1 learned to read "Say hello." as a copy drill.
    user = rng.choice(["Repeat exactly: {x}", "Echo this back: {x}", "Copy this: {x}"]).format(x=items)
    return user, f"Repeat it exactly: {items}", items


def lookup(rng):
    keys = rng.sample(sorted(config_values(rng)) + WORDS, rng.randint(2, 8))
    vals = {k: value(rng) for k in keys}
    key = rng.choice(keys)
    lines = "\n".join(f"{k}={v}" for k, v in vals.items())
    user = rng.choice(["{l}\n\nWhat is {k}?", "Given these settings:\n{l}\nWhich value does {k} have?"]).format(
        l=lines, k=key)
    return user, f"The line {key}={vals[key]} gives {vals[key]}.", f"{key} is {vals[key]}."


def lookup_two(rng):
    """Two key=value blocks (like two read_file results), one key asked of each: read_parallel's copy."""
    blocks, keys = [], []
    for _ in range(2):
        vals = {k: value(rng) for k in rng.sample(sorted(config_values(rng)), rng.randint(3, 7))}
        key = rng.choice(list(vals))
        blocks.append(vals)
        keys.append(key)
    text = "\n\nSecond:\n".join("\n".join(f"{k}={v}" for k, v in b.items()) for b in blocks)
    a, b = blocks[0][keys[0]], blocks[1][keys[1]]
    user = f"First:\n{text}\n\nWhat is {keys[0]} in the first and {keys[1]} in the second?"
    return user, f"First {keys[0]}={a}, second {keys[1]}={b}.", f"The first has {keys[0]} {a}; the second has {keys[1]} {b}."


def read_back(rng):
    x = value(rng) if rng.random() < 0.5 else number_text(round(rng.uniform(-1e5, 1e5), rng.choice([0, 2, 4])))
    shown = json.dumps({"result": x if not x.lstrip("-").replace(".", "", 1).isdigit() else json.loads(x)})
    user = rng.choice(["The tool printed {j}. What did it return?", "Result: {j}\nWhat is the result?"]).format(j=shown)
    return user, f"The result field is {x}.", f"It returned {x}."


def repeat_far(rng):
    """A list long enough (about 130-300 tokens) that the reply's first items lie outside the 128-token window."""
    items = " ".join(value(rng) for _ in range(rng.randint(24, 48)))
    return f"Copy this list exactly: {items}", "Copy the whole list.", items


def lookup_far(rng):
    """A key from the first lines of a long key=value block: the asked line lies beyond the sliding window."""
    keys = rng.sample(sorted(config_values(rng)) + WORDS, rng.randint(24, 40))
    vals = {k: value(rng) for k in keys}
    key = rng.choice(keys[:6])
    lines = "\n".join(f"{k}={v}" for k, v in vals.items())
    return (f"{lines}\n\nWhat is {key}?", f"The line {key}={vals[key]} gives {vals[key]}.",
            f"{key} is {vals[key]}.")


# Copies across more than V4's 128-token window, where (at that window) only the compressed entries (CSA top-k,
# HCA) see the value. In v5's data (gen_data.py --far-drills); v4 copied ~99% of values from within the window,
# 60% from beyond it (copy_probe.py; card, "Evaluation").
FAR = (repeat_far, lookup_far)


NEAR = (repeat, lookup, lookup_two, read_back)


def drill(rng, kinds=NEAR):
    """One drill conversation in `baleen render`'s input shape."""
    user, reasoning, reply = rng.choice(kinds)(rng)
    # Mostly without the ~650-token tools block: short drills pack many copies into a batch (v2 had 30% with it,
    # which made the block 3/4 of all drill tokens; the packed task conversations carry it now).
    thinking, with_tools = rng.random() < 0.5, rng.random() < 0.1
    return conversation(user, reasoning, reply, thinking, TOOLS if with_tools else [])


def conversation(user, reasoning, reply, thinking, tools):
    """One user turn and its reply in `baleen render`'s input shape (the reasoning only in thinking mode)."""
    msg = {"role": "assistant", "content": reply}
    if thinking:
        msg["reasoning_content"] = reasoning
    return {"messages": [{"role": "user", "content": user}, msg], "tools": tools, "thinking": thinking,
            "reasoning_effort": None, "dialect": "v4"}
