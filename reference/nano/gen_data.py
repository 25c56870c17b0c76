"""Seeded generator of synthetic agent conversations for baleen-nano.

  python3 reference/nano/gen_data.py --split train --count 20000 --out .cache/nano/train.jsonl
  python3 reference/nano/gen_data.py --split eval  --count 200   --out .cache/nano/eval_tasks.jsonl

train: one line per conversation in the shape `baleen render` reads ({"messages", "tools", "thinking",
"reasoning_effort", "dialect"}). eval: one task per line ({"id", "kinds", "files", "system", "tools", "thinking",
"turns": [{"user", "answer", "expect_file", "calls"}], "messages"}) for eval.py. Every tool result is produced by
running the call for real (tools.execute) in a scratch copy of the task's workspace, so results are
self-consistent and an eval that re-runs the calls sees the same text. Same seed, same bytes.
"""
import argparse
import json
from dataclasses import dataclass
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drills import FAR, drill  # noqa: E402
import heldout_phrasings  # noqa: E402
import phrasings  # noqa: E402
from tasks import TOOL_TASKS, plain_chat  # noqa: E402
from toolkits import Kit, execute_bound, make_toolkit  # noqa: E402
from tools import TOOLS, execute, materialize  # noqa: E402
import varied_tasks  # noqa: E402
from workspace import make_workspace  # noqa: E402

# eval: the v0 held-out set (never change); paraphrase and errors: v6's held-out sets (varied_conversation)
SEEDS = {"train": 20260601, "eval": 1000003, "paraphrase": 2000003, "errors": 3000003}
TOOL_SYSTEMS = ["You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace.",
                "You are a helpful assistant with access to a workspace. Use the tools when they help.",
                "You are an agent working in a sandboxed directory. Answer briefly and use tools to find facts.",
                ""]
PLAIN_SYSTEMS = [None, None, "You are a helpful assistant.", "You are baleen-nano, a concise assistant."]


@dataclass(frozen=True)
class Mix:
    """How many user turns a conversation has and which task kinds it draws."""
    tool_turns: tuple = (0.8, 0.15, 0.05)  # P(1, 2, 3, ... turns) with tools
    plain_turns: tuple = (0.7, 0.2, 0.1)
    boost: tuple = ()  # (builder name, weight multiplier) pairs


EVAL_MIX = Mix()  # the held-out set's mix: never change it (its md5 is in models/baleen-nano/README.md)
# v3 training mix. Most tool conversations carry several tasks after one ~650-token tools block, so a batch
# holds ~2.5x more assistant tokens; the kinds v2 failed (numbers and values carried across calls) are drawn
# more often. Every turn of a conversation is a fresh task on the same (real, mutated) workspace.
PACKED_MIX = Mix(tool_turns=(0.25, 0.1, 0.15, 0.2, 0.15, 0.15), plain_turns=(0.5, 0.2, 0.15, 0.15),
                 boost=(("calc_chain", 2.0), ("calc_parallel", 2.0), ("read_parallel", 2.0),
                        ("read_then_calc", 1.5), ("read_first_line", 1.5), ("list_contains", 1.5)))


def run_turn(rng, builder, facts, root, thinking, turn_no, run=None):
    """Plays one user turn; returns (messages for it, eval record of it). `run(name, args)` executes a call
    (default: tools.execute in root); `builder(rng, facts)` makes the turn."""
    run = run or (lambda n, a: execute(root, n, a))
    user, steps = builder(rng, facts)
    messages, record = [{"role": "user", "content": user}], {"user": user, "calls": [], "kind": builder.__name__}
    results = None
    while True:
        step = steps.send(results) if results is not None else next(steps)
        msg = {"role": "assistant", "content": step.content}
        if thinking:
            msg["reasoning_content"] = step.reasoning
        if not step.calls:
            messages.append(msg)
            record.update(answer=step.answer, expect_file=list(step.expect_file) if step.expect_file else None)
            if step.give_up:
                record["give_up"] = True
            return messages, record
        ids = [f"call_{turn_no}_{len(record['calls'])}_{k}" for k in range(len(step.calls))]
        msg["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                             for i, (n, a) in zip(ids, step.calls)]
        messages.append(msg)
        record["calls"].append([n for n, _ in step.calls])
        results = [run(n, a) for n, a in step.calls]
        messages += [{"role": "tool", "tool_call_id": i, "content": r} for i, r in zip(ids, results)]


def pick_tools(rng, used):
    if rng.random() < 0.8:
        return TOOLS
    keep = set(used) | {t["function"]["name"] for t in rng.sample(TOOLS, rng.randint(1, 3))}
    return [t for t in TOOLS if t["function"]["name"] in keep]


def conversation(rng, index, scratch, mix=EVAL_MIX):
    thinking = rng.random() < 0.6
    with_tools = rng.random() < 0.8
    files, facts = make_workspace(rng)
    root = os.path.join(scratch, str(index))
    materialize(root, files)
    boost = dict(mix.boost)
    builders = list(TOOL_TASKS)
    weights = [w * boost.get(b.__name__, 1.0) for b, w in TOOL_TASKS.items()]
    turn_weights = mix.tool_turns if with_tools else mix.plain_turns
    n_turns = rng.choices(range(1, len(turn_weights) + 1), turn_weights)[0]
    system = rng.choice(TOOL_SYSTEMS if with_tools else PLAIN_SYSTEMS)
    messages = [] if system is None else [{"role": "system", "content": system}]
    turns = []
    for t in range(n_turns):
        builder = rng.choices(builders, weights)[0] if with_tools else plain_chat
        msgs, record = run_turn(rng, builder, facts, root, thinking, t)
        messages += msgs
        turns.append(record)
    shutil.rmtree(root)
    used = [n for r in turns for step in r["calls"] for n in step]
    tools = pick_tools(rng, used) if with_tools else []
    return {"messages": messages, "tools": tools, "thinking": thinking, "reasoning_effort": None,
            "dialect": "v4"}, {"files": files, "system": system, "turns": turns}


V6_SYSTEMS = TOOL_SYSTEMS + ["You are a coding assistant with tools. Prefer tools over guessing.",
                              "Work in the user's workspace with the tools below; say so when something fails.",
                              "You are baleen-nano. Keep answers short."]
V6_TOOL_TURNS = (0.25, 0.15, 0.15, 0.2, 0.15, 0.1)
PARAPHRASE_TASKS = {b: w for b, w in varied_tasks.TASKS.items() if b not in varied_tasks.ERRORS}
# the error split: every error kind, and the counting / running kinds over a shell the sandbox refuses
ERROR_TASKS = {**{b: 3 for b in varied_tasks.ERRORS}, varied_tasks.count_lines: 3, varied_tasks.count_level: 2,
               varied_tasks.write_script: 1}


def draw_turn(rng, tasks, ctx):
    """One buildable task: (a builder returning it, for run_turn's record)."""
    builders, weights = list(tasks), list(tasks.values())
    while True:
        b = rng.choices(builders, weights)[0]
        made = b(rng, ctx)
        if made is not None:
            fixed = lambda r, f, made=made: made  # noqa: E731
            fixed.__name__ = b.__name__
            return fixed


def varied_conversation(rng, index, scratch, split="train"):
    """A v6 conversation: varied phrasings and toolkits, tool errors. split train | paraphrase | errors."""
    thinking = rng.random() < 0.6
    files, facts = make_workspace(rng)
    varied_tasks.add_text_files(rng, files, facts)
    root = os.path.join(scratch, str(index))
    materialize(root, files)
    heldout = split == "paraphrase"
    say = (phrasings.Phrasebook(heldout_phrasings.HELDOUT, heldout_phrasings.POLITE, noise=0.5) if heldout
           else phrasings.Phrasebook(phrasings.TRAIN))
    with_tools = split != "train" or rng.random() < 0.9
    pool = "heldout" if split != "train" and rng.random() < 0.5 else "train"
    tools, bindings = make_toolkit(rng, pool, shell="refused" if split == "errors" else "maybe")
    errors = rng.randrange(3)
    ctx = varied_tasks.Ctx(facts, Kit(tools, bindings, errors), say, files=files)
    tasks = {"train": varied_tasks.TASKS, "paraphrase": PARAPHRASE_TASKS, "errors": ERROR_TASKS}[split]
    if not with_tools:
        tasks = {varied_tasks.plain_chat: 1}
    turn_weights = V6_TOOL_TURNS if split == "train" else (0.75, 0.25)
    n_turns = rng.choices(range(1, len(turn_weights) + 1), turn_weights)[0]
    system = rng.choice(V6_SYSTEMS if with_tools else PLAIN_SYSTEMS)
    messages = [] if system is None else [{"role": "system", "content": system}]
    turns = []
    for t in range(n_turns):
        msgs, record = run_turn(rng, draw_turn(rng, tasks, ctx), facts, root, thinking, t,
                                lambda n, a: execute_bound(root, tools, bindings, errors, n, a))
        messages += msgs
        turns.append(record)
    shutil.rmtree(root)
    conv = {"messages": messages, "tools": tools if with_tools else [], "thinking": thinking,
            "reasoning_effort": None, "dialect": "v4"}
    return conv, {"files": files, "system": system, "turns": turns, "bindings": bindings, "errors": errors,
                  "pool": pool}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=list(SEEDS), required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, help="override the split's seed")
    ap.add_argument("--drills", type=int, default=0, help="train: copy drills appended (drills.py)")
    ap.add_argument("--far-drills", type=int, default=0,
                    help="train: drills that copy from beyond the sliding window (drills.FAR), after the others")
    ap.add_argument("--mix", choices=["eval", "packed", "v6"], default="eval",
                    help="train: conversation mix (packed: several tasks per conversation, v3; v6: --v6-share of "
                         "varied_conversation, the rest packed)")
    ap.add_argument("--v6-share", type=float, default=0.6)
    args = ap.parse_args()
    if (args.drills or args.far_drills or args.mix != "eval") and args.split != "train":
        ap.error("--drills, --far-drills and --mix are for the train split only")
    phrasings.check_disjoint(phrasings.TRAIN, heldout_phrasings.HELDOUT)
    mix = EVAL_MIX if args.mix == "eval" else PACKED_MIX
    rng = random.Random(args.seed if args.seed is not None else SEEDS[args.split])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nano-gen-") as scratch, open(args.out, "w", encoding="utf-8") as out:
        for i in range(args.count):
            if args.split in ("paraphrase", "errors"):
                conv, task = varied_conversation(rng, i, scratch, args.split)
            elif args.mix == "v6" and rng.random() < args.v6_share:
                conv, task = varied_conversation(rng, i, scratch)
            else:
                conv, task = conversation(rng, i, scratch, mix)
            if args.split != "train":
                conv = dict(id=f"{args.split}-{i:04d}", kinds=[t["kind"] for t in task["turns"]], **task,
                            tools=conv["tools"], thinking=conv["thinking"], messages=conv["messages"])
            out.write(json.dumps(conv, ensure_ascii=False) + "\n")
            if (i + 1) % 2000 == 0:
                print(f"{i + 1} conversations", file=sys.stderr)
        drill_rng = random.Random(rng.random())  # its own stream: the conversations above do not change
        for _ in range(args.drills):
            out.write(json.dumps(drill(drill_rng), ensure_ascii=False) + "\n")
        far_rng = random.Random(rng.random())  # drawn after the others: every earlier line stays the same
        for _ in range(args.far_drills):
            out.write(json.dumps(drill(far_rng, FAR), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
