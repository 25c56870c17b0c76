"""Teacher-forced copy accuracy of a checkpoint through baleen on the CPU, on fresh copy drills (drills.py).

  python3 reference/nano/copy_probe.py --baleen build/release/src/app/baleen --model models/baleen-nano \
      --tokenizer TOKENIZER.json [--per-kind 6] [--seed 777] [--eval-tasks EVAL.jsonl --tool-tasks 60]

For each drill kind: how many replies are argmax-right at every assistant token, the accuracy and mean NLL of all
assistant tokens, and the accuracy of the copied ones (a token repeated from earlier in the sequence, other than
phrasing and DSML: tokens in the replies of 5% or more of the sample's conversations), by how far back its last occurrence is:
1-64 and 65-128 tokens (inside V4's 128-token sliding window) or 129-256 and farther (beyond it, where only the
compressed entries, CSA top-k and HCA, see it; the same buckets for every model, so a 256-token window's rows
compare with the others). It tells whether the model carries values across a context at all,
apart from the task phrasing. --eval-tasks adds the reference conversations of the first --tool-tasks held-out
tasks that have tools, scored the same way, as one group.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drills  # noqa: E402
import prepare  # noqa: E402

DISTANCES = ((1, 64), (65, 128), (129, 256), (257, 10 ** 9))
KINDS = drills.NEAR + drills.FAR


def drill_conversations(rng, per_kind):
    out = []
    for kind in KINDS:
        for _ in range(per_kind):
            user, reasoning, reply = kind(rng)
            out.append((kind.__name__, drills.conversation(user, reasoning, reply, rng.random() < 0.5, [])))
    return out


def task_conversations(path, count):
    with open(path, encoding="utf-8") as f:
        tasks = [t for t in map(json.loads, f) if t["tools"]][:count]
    return [("eval tasks", {"messages": t["messages"], "tools": t["tools"], "thinking": t["thinking"],
                            "reasoning_effort": None, "dialect": "v4"}) for t in tasks]


def phrasing(seqs, masks, share=0.05):
    """Tokens in the replies of at least `share` of the conversations: the wording, not the values."""
    ids, count = np.unique(np.concatenate([np.unique(s[m]) for s, m in zip(seqs, masks)]), return_counts=True)
    return ids[count >= share * len(seqs)]


def score(logits, ids, mask, common):
    """Per assistant token: NLL, argmax right, and how far back the same token last occurred (0: never, or one of
    the `common` tokens)."""
    pos = np.flatnonzero(mask[1:]) + 1  # tokens the model must produce, each predicted from the one before
    rows = logits[pos - 1].astype(np.float64)
    rows -= rows.max(1, keepdims=True)
    nll = np.log(np.exp(rows).sum(1)) - rows[np.arange(len(pos)), ids[pos]]
    right = logits[pos - 1].argmax(1) == ids[pos]
    prev = prepare.last_seen(ids)[pos]
    back = np.where((prev >= 0) & ~np.isin(ids[pos], common), pos - prev, 0)
    return nll, right, back


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baleen", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--per-kind", type=int, default=6)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--eval-tasks", help="gen_data.py --split eval output")
    ap.add_argument("--tool-tasks", type=int, default=60)
    a = ap.parse_args()
    convs = drill_conversations(random.Random(a.seed), a.per_kind)
    if a.eval_tasks:
        convs += task_conversations(a.eval_tasks, a.tool_tasks)
    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = lambda name: os.path.join(tmp, name)  # noqa: E731
        with open(path("c.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(c, ensure_ascii=False) + "\n" for _, c in convs)
        prepare.run_baleen(a.baleen, a.tokenizer, path("c.jsonl"), path("ids.npz"))
        seqs, special = prepare.load(path("ids.npz"))
        masks = [prepare.assistant_mask(ids, special) for ids in seqs]
        common = phrasing(seqs, masks)
        for (kind, _), ids, mask in zip(convs, seqs, masks):
            np.save(path("ids.npy"), ids.astype(np.int32))
            subprocess.run([a.baleen, "logits", "--model", a.model, "--ids", path("ids.npy"), "--out",
                            path("logits.npy")], check=True, capture_output=True)
            nll, right, back = score(np.load(path("logits.npy")), ids, mask, common)
            t = totals.setdefault(kind, dict(replies=0, exact=0, nll=[], right=[], back=[]))
            t["replies"] += 1
            t["exact"] += int(right.all())
            t["nll"].append(nll), t["right"].append(right), t["back"].append(back)
    for kind, t in totals.items():
        nll, right, back = (np.concatenate(t[k]) for k in ("nll", "right", "back"))
        copied = []
        for lo, hi in DISTANCES:
            sel = (back >= lo) & (back <= hi)
            if sel.any():
                copied.append(f"{lo}-{hi if hi < 10 ** 9 else ''} back {right[sel].mean():.3f} of {int(sel.sum())}")
        print(f"{kind:11s} replies all right {t['exact']}/{t['replies']}; tokens right {right.mean():.3f} "
              f"(NLL {nll.mean():.3f}); copied tokens right: {', '.join(copied) or '-'}")


if __name__ == "__main__":
    main()
