"""Scores baleen-nano on held-out agent tasks, executing every tool call for real in a scratch workspace.

  python3 reference/nano/eval.py --baleen build/release/src/app/baleen --model models/baleen-nano \
      --tasks .cache/nano/eval_tasks.jsonl --report .cache/nano/eval.json

Each model step goes through baleen on the CPU: `baleen run --requests` renders, tokenizes, decodes greedily
to end of sentence and parses (reasoning / content / DSML tool calls), the path `baleen run` and `baleen agent`
take. Reports: tool-call parse rate, schema match rate, final-answer accuracy (per turn
and per task, and by task kind), and the reasoning / content / tool-call split correctness per model turn.
train.py also calls `run_tasks` with a transformers backend (pilot only) right after training.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolkits  # noqa: E402
from tools import execute, materialize, schema_errors  # noqa: E402

MARKERS = ("<｜DSML｜", "<think>", "</think>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>")
GIVE_UP = ("not ", "n't", "no ", "cannot", "unable", "undefined", "outside")  # a reply that says it cannot


class BaleenCLI:
    """One model step for many conversations at once: `baleen run --requests` (render -> tokenize -> greedy
    decode to EOS -> streamed parse, one loaded model) over a JSONL of requests."""

    def __init__(self, baleen, model, tokenizer, max_new):
        self.baleen, self.model, self.tokenizer, self.max_new = baleen, model, tokenizer, max_new

    def complete(self, convs):
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
            with open(src, "w", encoding="utf-8") as f:
                for c in convs:
                    f.write(json.dumps({k: v for k, v in c.items() if not k.startswith("_")}, ensure_ascii=False)
                            + "\n")
            cmd = [self.baleen, "run", "--requests", src, "--output", dst, "--model", self.model,
                   "-n", str(self.max_new)]
            if self.tokenizer:
                cmd += ["--tokenizer", self.tokenizer]
            subprocess.run(cmd, check=True)
            with open(dst, encoding="utf-8") as f:
                outs = [json.loads(line) for line in f]
        for o in outs:
            o["invokes"] = o["raw"].count("<｜DSML｜invoke")
        return outs


class Oracle:
    """Replays each task's reference conversation: it must score 100%, which checks that the generator's
    tool results, the real tool execution here and the scoring agree (`--oracle`)."""

    def __init__(self, tasks):
        self.ref = {t["id"]: t["messages"] for t in tasks}

    def complete(self, convs):
        outs = []
        for c in convs:
            msg = self.ref[c["_task"]][len(c["messages"])]
            calls = [{"name": tc["function"]["name"], "arguments": json.loads(tc["function"]["arguments"])}
                     for tc in msg.get("tool_calls", [])]
            outs.append({"reasoning": msg.get("reasoning_content", ""), "content": msg["content"],
                         "tool_calls": calls, "errors": [], "invokes": len(calls)})
        return outs


def new_state(task, root):
    materialize(root, task["files"])
    msgs = [] if task["system"] is None else [{"role": "system", "content": task["system"]}]
    msgs.append({"role": "user", "content": task["turns"][0]["user"]})
    return {"task": task, "root": root, "messages": msgs, "turn": 0, "steps": 0, "turn_ok": [], "done": False}


def run_call(st, name, args):
    """A call through the task's toolkit (v6 tasks: toolkits.execute_bound), else the five canonical tools."""
    t = st["task"]
    if "bindings" in t:
        return toolkits.execute_bound(st["root"], t["tools"], t["bindings"], t["errors"], name, args)
    return execute(st["root"], name, args)


def call_problems(task, name, args):
    return toolkits.schema_errors(task["tools"], name, args) if "bindings" in task else schema_errors(name, args)


def score_step(st, out, stats):
    """Books one model output; returns the assistant message to append (and runs its tool calls)."""
    thinking = st["task"]["thinking"]
    stats["model_turns"] += 1
    leaks = any(m in out["content"] or m in out["reasoning"] for m in MARKERS)
    split_ok = not out["errors"] and not leaks and (bool(out["reasoning"].strip()) == thinking)
    stats["split_ok"] += split_ok
    attempted = max(out.get("invokes", 0), len(out["tool_calls"]))
    parsed = len(out["tool_calls"]) if not out["errors"] else 0
    stats["calls_attempted"] += attempted
    stats["calls_parsed"] += parsed
    unseen = st["task"].get("pool") == "heldout"
    stats["unseen_calls_attempted"] += attempted if unseen else 0
    msg = {"role": "assistant", "content": out["content"]}
    if thinking:
        msg["reasoning_content"] = out["reasoning"]
    results = []
    if out["tool_calls"]:
        msg["tool_calls"] = []
        for k, call in enumerate(out["tool_calls"]):
            cid = f"call_{st['turn']}_{st['steps']}_{k}"
            ok = not call_problems(st["task"], call["name"], call["arguments"])
            stats["calls_schema_ok"] += ok
            stats["unseen_calls_schema_ok"] += ok if unseen else 0
            key = json.dumps([call["name"], call["arguments"]], sort_keys=True)
            st["repeated"] = st.get("repeated", False) or key in st.setdefault("seen_calls", set())
            st["seen_calls"].add(key)
            msg["tool_calls"].append({"id": cid, "type": "function", "function": {
                "name": call["name"], "arguments": json.dumps(call["arguments"], ensure_ascii=False)}})
            results.append({"role": "tool", "tool_call_id": cid,
                            "content": run_call(st, call["name"], call["arguments"])})
    return msg, results


def answer_ok(st, content):
    turn = st["task"]["turns"][st["turn"]]
    ok = all(part in content for part in (turn["answer"] or "").split("|"))
    if turn.get("give_up"):  # it must say why it cannot (and not only name the path)
        ok = ok and any(m in content.lower() for m in GIVE_UP)
    if turn.get("expect_file"):
        path, want = turn["expect_file"]
        try:
            with open(os.path.join(st["root"], path), encoding="utf-8") as f:
                ok = ok and f.read() == want
        except OSError:
            ok = False
    return ok


def advance(st, out, stats, max_steps):
    msg, results = score_step(st, out, stats)
    st["messages"].append(msg)
    st["steps"] += 1
    if results and st["steps"] < max_steps:
        st["messages"] += results
        return
    ok = not results and answer_ok(st, out["content"])
    stats["turns_with_repeated_call"] += st.get("repeated", False)
    clean = not results and not st.get("repeated", False)  # ended with a reply, no identical call twice
    stats["clean_turns"] += clean
    st["repeated"], st["seen_calls"] = False, set()
    ok = ok and (clean or "bindings" not in st["task"])  # v6 tasks: a repeated call fails the turn
    st["turn_ok"].append(ok)
    stats["kind_total"][st["task"]["turns"][st["turn"]]["kind"]] += 1
    stats["kind_ok"][st["task"]["turns"][st["turn"]]["kind"]] += ok
    if st["task"]["turns"][st["turn"]].get("give_up"):
        stats["give_up_total"] += 1
        stats["give_up_ok"] += ok
    if not ok and len(stats["failures"]) < 20:
        stats["failures"].append({"id": st["task"]["id"], "turn": st["turn"], "output": out,
                                  "messages": st["messages"][-8:]})
    st["turn"], st["steps"] = st["turn"] + 1, 0
    if st["turn"] == len(st["task"]["turns"]):
        st["done"] = True
    else:
        st["messages"].append({"role": "user", "content": st["task"]["turns"][st["turn"]]["user"]})


def run_tasks(backend, tasks, max_steps=6, deadline=None):
    import time
    stats = defaultdict(int)
    stats.update(kind_total=Counter(), kind_ok=Counter(), failures=[])
    with tempfile.TemporaryDirectory(prefix="nano-eval-") as scratch:
        states = [new_state(t, os.path.join(scratch, t["id"])) for t in tasks]
        while any(not s["done"] for s in states) and (deadline is None or time.time() < deadline):
            active = [s for s in states if not s["done"]]
            convs = [{"messages": s["messages"], "tools": s["task"]["tools"], "thinking": s["task"]["thinking"],
                      "reasoning_effort": None, "dialect": "v4", "_task": s["task"]["id"]} for s in active]
            for s, out in zip(active, backend.complete(convs)):
                advance(s, out, stats, max_steps)
        finished = [s for s in states if s["done"]]
    turns = sum(len(s["turn_ok"]) for s in finished)
    rate = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {"tasks": len(tasks), "tasks_finished": len(finished),
            "task_success": rate(sum(all(s["turn_ok"]) for s in finished), len(finished)),
            "turn_answer_accuracy": rate(sum(sum(s["turn_ok"]) for s in finished), turns),
            "tool_call_parse_rate": rate(stats["calls_parsed"], stats["calls_attempted"]),
            "tool_call_schema_rate": rate(stats["calls_schema_ok"], stats["calls_attempted"]),
            "split_correct_rate": rate(stats["split_ok"], stats["model_turns"]),
            "unseen_name_schema_rate": rate(stats["unseen_calls_schema_ok"], stats["unseen_calls_attempted"]),
            "unseen_name_calls": stats["unseen_calls_attempted"],
            "turns_with_repeated_identical_call": stats["turns_with_repeated_call"],
            "turns_ending_cleanly": rate(stats["clean_turns"], turns),
            "give_up_turns": {"ok": stats["give_up_ok"], "of": stats["give_up_total"]},
            "model_turns": stats["model_turns"], "calls_attempted": stats["calls_attempted"],
            "by_kind": {k: f"{stats['kind_ok'][k]}/{n}" for k, n in sorted(stats["kind_total"].items())},
            "failures": stats["failures"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baleen")
    ap.add_argument("--model")
    ap.add_argument("--tokenizer", help="tokenizer.json (default: baleen's, installed by scripts/setup.sh)")
    ap.add_argument("--oracle", action="store_true", help="replay the reference answers (self-check: 100%%)")
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--max-new", type=int, default=400)
    args = ap.parse_args()
    with open(args.tasks, encoding="utf-8") as f:
        tasks = [json.loads(line) for line in f][:args.limit]
    if args.oracle:
        backend = Oracle(tasks)
    elif not (args.baleen and args.model):
        ap.error("--baleen and --model are required (or --oracle)")
    else:
        backend = BaleenCLI(args.baleen, args.model, args.tokenizer, args.max_new)
    report = run_tasks(backend, tasks)
    report["model"] = args.model
    with open(args.report, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}, indent=1))


if __name__ == "__main__":
    main()
