"""Turns generated conversations into packed token ids for train.py, through baleen's own encoder and tokenizer.

  python3 reference/nano/prepare.py --baleen build/release/src/app/baleen --tokenizer TOKENIZER.json \
      --conversations .cache/nano/train.jsonl --out .cache/nano/train.npz

runs `baleen render` then `baleen tokenize` (the CLIs of issue 3) and packs the ids as one uint32 array plus
offsets, with the ids of the four markers the loss mask needs, into a compressed .npz (small enough to carry).
"""
import argparse
import gzip
import json
import os
import subprocess
import tempfile

import numpy as np

MARKERS = {"assistant": "<｜Assistant｜>", "think": "<think>", "end_think": "</think>", "eos": "<｜end▁of▁sentence｜>"}


def assistant_mask(ids, special):
    """True for tokens the model must learn to produce: after <｜Assistant｜> + <think>|</think>, through EOS."""
    ids = np.asarray(ids)
    mask = np.zeros(len(ids), dtype=bool)
    eos = np.flatnonzero(ids == special["eos"])
    starts = np.flatnonzero(ids[:-1] == special["assistant"])
    for a in starts:
        if ids[a + 1] not in (special["think"], special["end_think"]):
            continue
        k = np.searchsorted(eos, a + 2)
        end = eos[k] if k < len(eos) else len(ids) - 1
        mask[a + 2:end + 1] = True
    return mask


def last_seen(ids):
    """For each position, where the same token occurred last before it (-1: nowhere)."""
    ids = np.asarray(ids)
    order = np.lexsort((np.arange(len(ids)), ids))  # by token, then position
    prev = np.full(len(ids), -1)
    same = ids[order][1:] == ids[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def copy_weights(ids, mask, common, weight, reach=None):
    """Loss weights of one sequence: 1 on assistant tokens, `weight` on those that repeat a token seen earlier
    (at most `reach` tokens before, or anywhere when None: a copied value, a number from a tool result, a word
    from the question) unless the token is one of the `common` ones (phrasing and DSML pieces, which repeat
    without being copied)."""
    prev = last_seen(ids)
    copied = mask & (prev >= 0) & ~np.isin(ids, common)
    if reach is not None:
        copied &= np.arange(len(prev)) - prev <= reach
    return np.where(copied, weight, mask.astype(np.float32)).astype(np.float32)


def common_tokens(seqs, masks, count=64):
    """The `count` most frequent assistant tokens."""
    ids, freq = np.unique(np.concatenate([s[m] for s, m in zip(seqs, masks)]), return_counts=True)
    return ids[np.argsort(-freq)[:count]]


def pack(seqs, special, out):
    offsets = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    flat = np.concatenate([np.asarray(s, dtype=np.uint32) for s in seqs])
    part = out + ".part.npz"  # renamed when complete: a concurrent reader (a second training run) never sees half
    np.savez_compressed(part, ids=flat, offsets=offsets, special=np.array(json.dumps(special)))
    os.replace(part, out)


def load(path):
    z = np.load(path)
    off, flat = z["offsets"], z["ids"].astype(np.int64)
    return [flat[off[i]:off[i + 1]] for i in range(len(off) - 1)], json.loads(str(z["special"]))


def tokenize_with_hf(prompts_path, tok):
    """PILOT ONLY (the final model uses `baleen tokenize`): Hugging Face tokenizers on the GPU machine."""
    opener = gzip.open if prompts_path.endswith(".gz") else open
    with opener(prompts_path, "rt", encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f]
    encs = tok.encode_batch(prompts, add_special_tokens=False)
    special = {k: tok.token_to_id(v) for k, v in MARKERS.items()}
    return [np.asarray(e.ids, dtype=np.int64) for e in encs], special


def pilot_tokenizer(tokenizer_json):
    """V3's tokenizer.json + V4's added tokens, built by reference/make_tokenizer_fixtures.py (HF tokenizers)."""
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, ".."))
    import make_tokenizer_fixtures as mtf
    added = os.path.join(here, "..", "..", "tests", "fixtures", "tokenizer", "v4_added_tokens.json")
    return mtf.build(tokenizer_json, added)[0]


def run_baleen(baleen, tokenizer, conversations, out, rendered=None):
    """render (skipped when `rendered` prompts are given: pilot only) -> tokenize -> pack."""
    with tempfile.TemporaryDirectory() as tmp:
        texts, ids = os.path.join(tmp, "texts.jsonl"), os.path.join(tmp, "ids.jsonl")
        if rendered is None:
            rendered = os.path.join(tmp, "prompts.jsonl")
            subprocess.run([baleen, "render", "--input", conversations, "--output", rendered], check=True)
        with open(rendered, encoding="utf-8") as f, open(texts, "w", encoding="utf-8") as g:
            for v in MARKERS.values():
                g.write(json.dumps({"text": v}, ensure_ascii=False) + "\n")
            for line in f:
                g.write(json.dumps({"text": json.loads(line)["prompt"]}, ensure_ascii=False) + "\n")
        # --deepseek-v4 adds V4's tokens (<think>, </think>, ｜DSML｜, ...) to V3's tokenizer.json
        subprocess.run([baleen, "tokenize", "--deepseek-v4", "--tokenizer", tokenizer, "--input", texts,
                        "--output", ids], check=True)
        with open(ids, encoding="utf-8") as f:
            rows = [json.loads(line)["ids"] for line in f]
    special = {}
    for k, r in zip(MARKERS, rows):
        if len(r) != 1:
            raise SystemExit(f"marker {MARKERS[k]!r} is not one token: {r}")
        special[k] = r[0]
    pack(rows[len(MARKERS):], special, out)
    return len(rows) - len(MARKERS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baleen", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--conversations", help="generator output, rendered with `baleen render`")
    ap.add_argument("--pilot-prompts", help="PILOT ONLY: {prompt} lines already rendered by pilot_render.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", help="ids.npz made elsewhere (device_data.sh + train.py): must equal --out's ids")
    args = ap.parse_args()
    if not (args.conversations or args.pilot_prompts):
        ap.error("give --conversations (or, for a pilot, --pilot-prompts)")
    n = run_baleen(args.baleen, args.tokenizer, args.conversations, args.out, args.pilot_prompts)
    print(f"{n} sequences -> {args.out}")
    if args.check:
        ours, theirs = load(args.out), load(args.check)
        same = ours[1] == theirs[1] and len(ours[0]) == len(theirs[0]) and all(
            np.array_equal(a, b) for a, b in zip(ours[0], theirs[0]))
        print(f"{args.check}: {'identical to' if same else 'DIFFERENT from'} baleen's ids")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
