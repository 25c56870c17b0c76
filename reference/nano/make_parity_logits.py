#!/usr/bin/env python3
"""Reference logits of baleen-nano on real prompts: tests/fixtures/nano_parity/ (tests/engine/nano_parity_test.cc).

Issue 6: baleen's greedy logits on the exported checkpoint match transformers on the same weights. This runs the
float64 numpy forward of reference/make_paper_logits.py (written from transformers 5.17's modeling_deepseek_v4.py;
it reproduces transformers' fixture logits.npy to 1.3e-5) on a checkpoint directory in the official layout (FP8 /
FP4 shards dequantized exactly) with the checkpoint's spec.SHAPES entry and exact KV storage (no paper quantization).

Prompts are held-out eval tasks (gen_data.py --split eval), each whole reference conversation rendered and
tokenized by baleen itself (`baleen render`, `baleen tokenize --deepseek-v4`), as eval.py feeds the model.
127,050 of the 129,280 head rows are exact zeros, so their logits are exactly 0; what is stored is small:

    head_rows.npy          int32 [kept]     the non-zero rows of head.weight, ascending
    NAME/request.json      the `baleen render` input
    NAME/ids.npy           int32 [T]        token ids (BOS first, as rendered)
    NAME/top1.npy          int32 [T]        argmax over the full vocabulary at every position
    NAME/positions.npy     int32 [P]        positions whose logits are stored: every ceil(T/STRIDES)-th + the last 16
    NAME/logits.npy        float32 [P, kept] logits of the head_rows at those positions
    NAME/mtp_positions.npy int32 [Q]        (checkpoints with an MTP block) the stored positions t <= T-2
    NAME/mtp_logits.npy    float32 [Q, kept] the MTP block's logits at t: token t+2 from the main model's streams
                                            at t and token t+1 (make_paper_logits Model.mtp_forward)
    NAME/mtp_top1.npy      int32 [T-1]      the MTP block's argmax over the full vocabulary at t = 0..T-2
    hf_logits.npz          (--hf) transformers' own logits on the same weights (reference/nano/hf_logits.py, GPU):
                           head_rows, and NAME/logits float32 [P, kept] at NAME/positions
    meta.json              command, versions, input hashes, per-prompt checks (and the numpy-vs-transformers diff)

numpy only, CPU, about a minute:
    python3 reference/nano/gen_data.py --split eval --count 200 --out /tmp/eval.jsonl
    python3 reference/nano/make_parity_logits.py --baleen build/release/src/app/baleen --tasks /tmp/eval.jsonl
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]
import make_paper_logits as ref  # noqa: E402
from spec import SHAPES  # noqa: E402

PROMPTS = ["tool_thinking=eval-0033", "plain_chat=eval-0026"]  # cmd_wc with a tool result; 3 plain turns
TAIL = 16
STRIDES = 32  # v6: 32 (3,848 head rows; v5 stored every ceil(T/128)-th position of 2,230 rows)
ASSISTANT, EOS = 128804, 1  # <｜Assistant｜>, <｜end▁of▁sentence｜>


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def shape_of(model_dir):
    """The spec.SHAPES entry the checkpoint was trained with: its config.json fields that the reference takes from
    the spec (the head split and what does not show in tensor shapes) must be that entry's."""
    c = json.load(open(os.path.join(model_dir, "config.json")))
    got = dict(d=c["head_dim"], r=c["qk_rope_head_dim"], ratios=c["compress_ratios"][:c["num_hidden_layers"]],
               window=c["sliding_window"],
               topk=c["index_topk"], n_hash=c["num_hash_layers"], swiglu=c["swiglu_limit"],
               K=c["num_experts_per_tok"], yarn=c.get("rope_scaling"))
    for key, value in ref.fixture_specs()["COMMON"].items():
        if key in c and c[key] != value:
            raise SystemExit(f"{model_dir}/config.json: {key} {c[key]} vs {value}")
    for name, s in SHAPES.items():
        yarn = {k: got["yarn"][k] for k in s["yarn"]} if got["yarn"] else None
        if dict(got, yarn=yarn) == {k: s[k] for k in got}:
            return name, s
    raise SystemExit(f"{model_dir}/config.json matches no spec.SHAPES entry: {got}")


def full_vocab_top1(kept, rows, vocab):
    """Argmax over the whole vocabulary (first index on ties, as std::max_element) and its lead over the
    runner-up, from the logits of the non-zero rows: every other row's logit is exactly 0."""
    zero_row = int(np.setdiff1d(np.arange(vocab), rows)[0]) if len(rows) < vocab else None
    ids, logits = rows, kept
    if zero_row is not None:  # the first zero row stands for all of them
        order = np.argsort(np.append(rows, zero_row), kind="stable")
        ids, logits = np.append(rows, zero_row)[order], np.hstack([kept, np.zeros((len(kept), 1))])[:, order]
    top2 = np.sort(logits, -1)[:, -2:]
    return ids[logits.argmax(-1)].astype(np.int32), top2[:, 1] - top2[:, 0]


def assistant_positions(ids):
    """Positions whose next token is an assistant token (after <｜Assistant｜>, up to its end of sentence): the
    only tokens trained with loss, so a correct forward of the trained model predicts them well."""
    out, inside = [], False
    for t in range(len(ids) - 1):
        inside = inside or ids[t] == ASSISTANT
        if inside:
            out.append(t)
        inside = inside and ids[t + 1] != EOS
    return np.array(out, np.int64)


def render_and_tokenize(baleen, tokenizer, requests):
    with tempfile.TemporaryDirectory() as tmp:
        def path(name):
            return os.path.join(tmp, name)

        def lines(name):
            return [json.loads(line) for line in open(path(name), encoding="utf-8")]
        with open(path("requests.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
        subprocess.run([baleen, "render", "--input", path("requests.jsonl"), "--output", path("prompts.jsonl")],
                       check=True)
        with open(path("text.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": p["prompt"]}, ensure_ascii=False) + "\n" for p in lines("prompts.jsonl"))
        subprocess.run([baleen, "tokenize", "--deepseek-v4", "--tokenizer", tokenizer, "--input", path("text.jsonl"),
                        "--output", path("ids.jsonl")], check=True)
        return [np.array(r["ids"], np.int32) for r in lines("ids.jsonl")]


def mtp_fixture(model, streams, ids, positions, rows, vocab, asst, d):
    """Writes the MTP block's logits at the stored positions t <= T-2; returns its checks and all its logits."""
    mtp = model.mtp_forward(streams, ids.astype(np.int64))  # [T-1, kept]: token t+2 at t
    top1, margin = full_vocab_top1(mtp, rows, vocab)
    keep = positions[positions <= len(ids) - 2]
    for file, value in (("mtp_positions", keep.astype(np.int32)), ("mtp_top1", top1),
                        ("mtp_logits", mtp[keep].astype(np.float32))):
        np.save(os.path.join(d, file + ".npy"), value)
    two = asst[asst <= len(ids) - 3]  # assistant positions whose token t+2 exists
    return dict(mtp_stored_positions=len(keep), mtp_finite=bool(np.isfinite(mtp).all()),
                mtp_min_top1_margin=float(margin.min()),
                mtp_assistant_token_after_next_top1=float((top1[two] == ids[two + 2]).mean())), mtp


def main():
    repo = ref.REPO
    tok_default = os.path.join(os.environ.get("BALEEN_CACHE") or os.path.expanduser("~/.cache/baleen"),
                               "tokenizer-deepseek_v3", "tokenizer.json")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baleen", required=True, help="the built baleen binary (render, tokenize)")
    ap.add_argument("--tasks", required=True, help="gen_data.py --split eval output")
    ap.add_argument("--model-dir", default=os.path.join(repo, "models", "baleen-nano"))
    ap.add_argument("--tokenizer", default=os.environ.get("BALEEN_TOKENIZER") or tok_default)
    ap.add_argument("--prompt", nargs="+", default=PROMPTS, metavar="NAME=TASK_ID")
    ap.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "nano_parity"))
    ap.add_argument("--hf", help="hf_logits.npz from reference/nano/hf_logits.py: compared, and copied beside")
    a = ap.parse_args()

    ref.self_test()
    shape, spec = shape_of(a.model_dir)
    tasks = {t["id"]: t for t in map(json.loads, open(a.tasks, encoding="utf-8"))}
    names, task_ids = zip(*(p.split("=", 1) for p in a.prompt))
    requests = [{"messages": tasks[i]["messages"], "tools": tasks[i]["tools"], "thinking": tasks[i]["thinking"],
                 "reasoning_effort": None, "dialect": "v4"} for i in task_ids]
    all_ids = render_and_tokenize(a.baleen, a.tokenizer, requests)

    hf = None
    if a.hf:
        hf = dict(np.load(a.hf))
        if not np.array_equal(hf["head_rows"], np.flatnonzero(np.any(ref.load_official(a.model_dir)["head.weight"] != 0,
                                                                        axis=1))):
            raise SystemExit(f"{a.hf}: its head rows are not this checkpoint's")
    w = ref.load_official(a.model_dir)
    head = w["head.weight"]
    rows = np.flatnonzero(np.any(head != 0, axis=1)).astype(np.int32)
    w["head.weight"] = head[rows]  # the zero rows' logits are exactly 0: the forward computes only the others
    model = ref.Model(spec, w, ref.fixture_specs()["COMMON"], False)

    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "head_rows.npy"), rows)
    checks = {}
    for name, task_id, request, ids in zip(names, task_ids, requests, all_ids):
        t0 = time.time()
        kept, streams = model.forward(ids.astype(np.int64), streams=True)
        top1, margin = full_vocab_top1(kept, rows, head.shape[0])
        T, stride = len(ids), math.ceil(len(ids) / STRIDES)
        asst = assistant_positions(ids)
        positions = np.array([t for t in range(T) if t % stride == 0 or t >= T - TAIL], np.int32)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "request.json"), "w", encoding="utf-8") as f:
            json.dump(request, f, ensure_ascii=False, indent=1)
            f.write("\n")
        for file, value in (("ids", ids), ("top1", top1), ("positions", positions),
                            ("logits", kept[positions].astype(np.float32))):
            np.save(os.path.join(d, file + ".npy"), value)
        checks[name] = dict(
            task=task_id, tokens=T, stored_positions=len(positions), finite=bool(np.isfinite(kept).all()),
            min_top1_margin=float(margin.min()),
            assistant_next_token_top1=float((top1[asst] == ids[asst + 1]).mean()), assistant_positions=len(asst),
            logit_std=float(kept.std()))
        mtp = None
        if "mtp.0.e_proj.weight" in w:
            mtp_checks, mtp = mtp_fixture(model, streams, ids, positions, rows, head.shape[0], asst, d)
            checks[name].update(mtp_checks)
        if hf is not None:
            ref_hf = hf[f"{name}/logits"]
            checks[name]["vs_transformers"] = dict(
                max_abs_diff=float(np.abs(ref_hf - kept).max()), top1_agree=float(
                    (full_vocab_top1(ref_hf.astype(np.float64), rows, head.shape[0])[0] == top1).mean()))
            if f"{name}/mtp_logits" in hf and mtp is not None:
                checks[name]["vs_transformers"]["mtp_max_abs_diff_torch_fp32"] = float(
                    np.abs(hf[f"{name}/mtp_logits"] - mtp).max())
        print(f"[{name}] {task_id}: {T} tokens, {len(positions)} stored; teacher-forced next-token top-1 on the "
              f"{len(asst)} assistant positions {checks[name]['assistant_next_token_top1']:.3f}; min top-1 margin "
              f"{checks[name]['min_top1_margin']:.3g} ({time.time() - t0:.1f}s)")

    shards = sorted(f for f in os.listdir(a.model_dir) if f.endswith(".safetensors"))
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = dict(
        command="python3 " + " ".join([os.path.relpath(__file__, repo)] + sys.argv[1:]),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        python=platform.python_version(), numpy=np.__version__, baleen_commit=commit,
        kv_storage="exact (fp32-state reference: no paper quantization)", precision="float64",
        shape=shape, spec=spec, head_rows=len(rows), vocab=int(head.shape[0]),
        inputs={"tasks_md5": hashlib.md5(open(a.tasks, "rb").read()).hexdigest(),
                "tokenizer_sha256": sha256(a.tokenizer),
                **{f: sha256(os.path.join(a.model_dir, f)) for f in shards}},
        prompts=checks)
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    if a.hf:
        np.savez_compressed(os.path.join(a.out, "hf_logits.npz"), head_rows=hf["head_rows"], **{
            f"{n}/logits": hf[f"{n}/logits"][np.load(os.path.join(a.out, n, "positions.npy"))] for n in names})
    ok = all(c["finite"] and c.get("mtp_finite", True) for c in checks.values())
    print("written to", a.out if ok else "NON-FINITE LOGITS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
