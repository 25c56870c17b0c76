"""Teacher-forced copy accuracy of a checkpoint through baleen on the CPU, on fresh copy drills (drills.py).

  python3 reference/nano/copy_probe.py --baleen build/release/src/app/baleen --model models/baleen-nano \
      --tokenizer TOKENIZER.json [--per-kind 6] [--seed 777]

For each drill kind: how many replies are argmax-right at every assistant token, the accuracy and mean NLL of all
assistant tokens, and of the copied ones (a rare token repeated from the 128 before: prepare.copy_weights' rule).
It says whether the model can carry a value across a short context at all, apart from the task phrasing.
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

KINDS = (drills.repeat, drills.lookup, drills.lookup_two, drills.read_back)


def conversations(rng, per_kind):
    out = []
    for kind in KINDS:
        for _ in range(per_kind):
            user, reasoning, reply = kind(rng)
            thinking = rng.random() < 0.5
            msg = {"role": "assistant", "content": reply}
            if thinking:
                msg["reasoning_content"] = reasoning
            out.append((kind.__name__, {"messages": [{"role": "user", "content": user}, msg], "tools": [],
                                        "thinking": thinking, "reasoning_effort": None, "dialect": "v4"}))
    return out


def score(logits, ids, weights):
    pos = np.flatnonzero(weights[1:] > 0) + 1  # tokens the model must produce, each predicted from the one before
    rows = logits[pos - 1].astype(np.float64)
    rows -= rows.max(1, keepdims=True)
    nll = np.log(np.exp(rows).sum(1)) - rows[np.arange(len(pos)), ids[pos]]
    right = logits[pos - 1].argmax(1) == ids[pos]
    return nll, right, weights[pos] > 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baleen", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--per-kind", type=int, default=6)
    ap.add_argument("--seed", type=int, default=777)
    a = ap.parse_args()
    convs = conversations(random.Random(a.seed), a.per_kind)
    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = lambda name: os.path.join(tmp, name)  # noqa: E731
        with open(path("c.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(c, ensure_ascii=False) + "\n" for _, c in convs)
        prepare.run_baleen(a.baleen, a.tokenizer, path("c.jsonl"), path("ids.npz"))
        seqs, special = prepare.load(path("ids.npz"))
        for (kind, _), ids in zip(convs, seqs):
            np.save(path("ids.npy"), ids.astype(np.int32))
            subprocess.run([a.baleen, "logits", "--model", a.model, "--ids", path("ids.npy"), "--out",
                            path("logits.npy")], check=True, capture_output=True)
            weights = prepare.copy_weights(ids, prepare.assistant_mask(ids, special), np.array([], np.int64), 3.0)
            nll, right, copied = score(np.load(path("logits.npy")), ids, weights)
            t = totals.setdefault(kind, dict(replies=0, exact=0, nll=[], right=[], copied=[]))
            t["replies"] += 1
            t["exact"] += int(right.all())
            t["nll"].append(nll), t["right"].append(right), t["copied"].append(copied)
    for kind, t in totals.items():
        nll, right, copied = (np.concatenate(t[k]) for k in ("nll", "right", "copied"))
        print(f"{kind:11s} replies all right {t['exact']}/{t['replies']}; tokens right {right.mean():.3f} "
              f"(NLL {nll.mean():.3f}); copied tokens right {right[copied].mean():.3f} "
              f"(NLL {nll[copied].mean():.3f}, {int(copied.sum())} tokens)")


if __name__ == "__main__":
    main()
