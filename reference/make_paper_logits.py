#!/usr/bin/env python3
"""Reference logits for baleen's "paper" KV storage mode: tests/fixtures/<name>/logits_paper.npy.

The fixtures' logits.npy come from transformers' DeepseekV4ForCausalLM in fp32 with exact KV. Paper mode stores
KV as DeepSeek's reference code does (spec/model.md "Norms and precision"), and on random weights that noise
alone flips 6-20% of the argmaxes, so paper mode needs a reference with the SAME storage quantization:

- window KV (attention kv after kv_norm + RoPE; the current token's own entry included) and the compressor
  entries of CSA/HCA layers (after norm + RoPE): the leading d-r dims FP8 e4m3 with one ue8m0 scale per 64
  values (a partial last block allowed), the trailing r RoPE dims rounded to BF16;
- lightning-indexer compressed keys AND indexer queries (after RoPE): normalized Hadamard transform (butterfly in
  natural order, scale float32(di^-1/2)), then FP4 e2m1 with one ue8m0 scale per 32; scores use the rotated,
  quantized values on both sides.

Scale rule (baleen src/engine/kv_codec.cc quantize_block): amax = max(floor, max|x|) with floor 1e-4 (FP8) or
6*2^-126 (FP4); e = exponent of the smallest power of two >= amax/max_code (fp32 division), clamped to
[-127, 127]; codes from x * 2^-e. FP8: round to nearest even, saturating at 448. FP4: dtype.cc's thresholds
(ties to the even code). The codec runs in numpy float32, bit for bit baleen's arithmetic on the same inputs.

The model is an independent numpy (float64) forward of DeepSeek-V4 written from transformers 5.17's
modeling_deepseek_v4.py (reference/NOTES.md §5). It reads the fixture's own files (config from
make_fixtures.FIXTURES, checkpoint from the safetensors bytes, FP8/FP4 dequantized exactly) and is checked first
with storage quantization off against the fixture's logits.npy (transformers, fp32 on an H100).
numpy only, CPU (the GPU machine could not take this repository: its tracked files exceed the 64 MiB limit):

    python3 reference/make_paper_logits.py [--only NAME ...]    # ~1 min
"""
import argparse
import ast
import json
import math
import os
import struct
import sys
import time

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIXTURE_ROOT = os.path.join(REPO, "tests", "fixtures")
F32 = np.float32
FP8_MAX, FP4_MAX = F32(448.0), F32(6.0)
FP8_BLOCK, FP4_BLOCK = 64, 32


def fixture_specs():
    """make_fixtures.FIXTURES / COMMON / name maps, read from its source (it needs torch to import)."""
    src = open(os.path.join(REPO, "reference", "make_fixtures.py")).read()
    ns = {}
    a, b = src.index("COMMON = dict("), src.index("FP4_VALUES")
    exec(src[a:b], ns)  # noqa: S102  plain dict(...) literals
    for name in ("ATTN_MAP", "LAYER_MAP", "TOP_MAP"):
        i = src.index(name + " = {")
        j = src.index("}\n", i) + 1
        ns[name] = ast.literal_eval(src[i + len(name) + 3:j])
    return ns


# --------------------------------------------------------------------------------------------------
# baleen's codec in numpy float32 (src/engine/kv_codec.cc, src/core/dtype.cc)
# --------------------------------------------------------------------------------------------------
def pow2(k):
    """2^k as float32 for integer k in [-127, 127], exactly (bit construction)."""
    k = k.astype(np.int64)
    bits = np.where(k >= -126, (k + 127) << 23, 1 << 22).astype(np.uint32)  # k = -127: subnormal 2^-127
    return bits.view(F32)


def block_scale_exp(block, max_code, floor):
    amax = np.maximum(F32(floor), np.abs(block).max(-1, keepdims=True)).astype(F32)
    v = (amax / np.full_like(amax, max_code)).astype(F32)
    m, e = np.frexp(v)
    e = np.where(m == F32(0.5), e - 1, e)
    return np.clip(e, -127, 127)


def fp8_e4m3_value(a):
    """|value| of f32_to_fp8_e4m3(a) decoded, for a >= 0 float32."""
    out = np.empty_like(a)
    sat = a >= FP8_MAX
    sub = a < F32(2.0 ** -6)
    out[sub] = (np.rint(a[sub] * F32(512.0)) * F32(2.0 ** -9)).astype(F32)
    nrm = ~sat & ~sub
    m, e = np.frexp(a[nrm])
    mant = np.rint((m * F32(2.0) - F32(1.0)) * F32(8.0)).astype(F32)
    val = ((F32(8.0) + mant) * pow2(e.astype(np.int64) - 4)).astype(F32)  # (1 + mant/8) * 2^(e-1)
    out[nrm] = np.minimum(val, FP8_MAX)
    out[sat] = FP8_MAX
    return out


def fp4_e2m1_value(a):
    """|value| of f32_to_fp4_e2m1(a) decoded, for a >= 0 float32 (dtype.cc thresholds)."""
    return np.select(
        [a <= 0.25, a < 0.75, a <= 1.25, a < 1.75, a <= 2.5, a < 3.5, a <= 5.0],
        [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0], 6.0).astype(F32)


def quant_blocks(x, block, max_code, floor, value_fn):
    out = np.empty_like(x)
    if x.size == 0:
        return out
    for start in range(0, x.shape[-1], block):
        b = x[..., start:start + block]
        e = block_scale_exp(b, max_code, floor)
        q = (b * pow2(-e)).astype(F32)
        v = value_fn(np.abs(q))
        out[..., start:start + block] = (np.where(np.signbit(q), -v, v) * pow2(e)).astype(F32)
    return out


def bf16_round(x):
    u = x.astype(F32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(F32)


def fp8_rope_round_trip(x, rope_dim):
    """KvFormat::kFp8Rope round trip over the last dim."""
    nope = x.shape[-1] - rope_dim
    out = np.empty_like(x)
    out[..., :nope] = quant_blocks(x[..., :nope], FP8_BLOCK, FP8_MAX, 1e-4, fp8_e4m3_value)
    out[..., nope:] = bf16_round(x[..., nope:])
    return out


def fp4_round_trip(x):
    return quant_blocks(x, FP4_BLOCK, FP4_MAX, float(FP4_MAX) * 2.0 ** -126, fp4_e2m1_value)


def hadamard(x):
    """backend/cpu/hadamard.cc hadamard_rows: butterfly in natural order, then * float32(1/sqrt(n))."""
    n = x.shape[-1]
    assert n & (n - 1) == 0
    if x.size == 0:
        return x.astype(F32)
    lead = x.shape[:-1]
    x = x.astype(F32).copy()
    ln = 1
    while ln < n:
        v = x.reshape(*lead, n // (2 * ln), 2, ln)
        a, b = v[..., 0, :], v[..., 1, :]
        x = np.stack([a + b, a - b], axis=-2).reshape(*lead, n)
        ln *= 2
    return (x * F32(1.0 / np.sqrt(float(n)))).astype(F32)


def self_test():
    # FP8: the nearest e4m3 code (values with a unique nearest code)
    rng = np.random.default_rng(0)
    a = np.concatenate([np.abs(rng.standard_normal(20000).astype(F32)) * F32(100),
                        np.abs(rng.standard_normal(5000).astype(F32)) * F32(0.01),
                        np.arange(0, 449, dtype=F32) / F32(4), np.arange(0, 2 ** 10, dtype=F32) * F32(2.0 ** -12)])
    a = np.minimum(a, F32(448.0))
    t = E4M3[:127][np.abs(E4M3[:127][None, :] - a[:, None]).argmin(1)]  # nearest code (no ties here)
    ok = np.abs(E4M3[:127][None, :] - a[:, None]).min(1) < np.partition(np.abs(E4M3[:127][None, :] - a[:, None]), 1, 1)[:, 1]
    assert np.array_equal(fp8_e4m3_value(a)[ok], t[ok].astype(F32)), "fp8 e4m3 rounding is not nearest"
    x = np.array([0.25, 0.26, 0.75, 1.25, 1.3, 1.75, 2.5, 2.6, 3.5, 5.0, 5.1, 100], F32)
    assert fp4_e2m1_value(x).tolist() == [0, 0.5, 1, 1, 1.5, 2, 2, 3, 4, 4, 6, 6]
    h = np.eye(8, dtype=F32)
    H = hadamard(h) * np.sqrt(8)
    ref = np.array([[(-1) ** bin(i & j).count("1") for j in range(8)] for i in range(8)], F32)
    assert np.allclose(H, ref)
    print("self-test ok (fp8 nearest, fp4 thresholds, hadamard order)")


def silu(x):
    return x / (1.0 + np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------------------------------
# checkpoint
# --------------------------------------------------------------------------------------------------
E4M3 = np.array([(-1.0 if b & 0x80 else 1.0) * (
    math.ldexp(b & 7, -9) if (b >> 3) & 15 == 0 else math.ldexp(8 + (b & 7), ((b >> 3) & 15) - 10))
    for b in range(256)])
FP4 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        raw, shape, dt = data[a:b], v["shape"], v["dtype"]
        if dt == "F32":
            t = np.frombuffer(raw, np.float32).reshape(shape).astype(np.float64)
        elif dt == "BF16":
            t = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape).astype(np.float64)
        elif dt == "F8_E4M3":
            t = E4M3[np.frombuffer(raw, np.uint8)].reshape(shape)
        elif dt == "F8_E8M0":
            t = np.ldexp(1.0, np.frombuffer(raw, np.uint8).astype(np.int64) - 127).reshape(shape)
        elif dt == "I8":
            u = np.frombuffer(raw, np.uint8).reshape(shape)
            t = np.stack([FP4[u & 15], FP4[u >> 4]], -1).reshape(shape[0], shape[1] * 2)
            dt = "FP4"
        elif dt == "I64":
            t = np.frombuffer(raw, np.int64).reshape(shape)
        else:
            raise ValueError(f"{path}: {k} has dtype {dt}")
        out[k] = (dt, t)
    return out


def load_official(fdir):
    raw = {}
    for fn in sorted(os.listdir(fdir)):
        if fn.endswith(".safetensors"):
            raw.update(read_safetensors(os.path.join(fdir, fn)))
    w = {}
    for k, (dt, t) in raw.items():
        if k.endswith(".scale"):
            continue
        if dt == "F8_E4M3":
            s = raw[k[:-len(".weight")] + ".scale"][1]
            full = np.repeat(np.repeat(s, 128, 0), 128, 1)[:t.shape[0], :t.shape[1]]
            t = t * full
        elif dt == "FP4":
            s = raw[k[:-len(".weight")] + ".scale"][1]
            t = t * np.repeat(s, 32, 1)[:, :t.shape[1]]
        w[k] = t
    return w


def load_hf(fdir):
    """transformers' save_pretrained names: official leaves under model.layers.N (kv_norm saved as attn.norm)."""
    top = {"model.embed_tokens.weight": "embed.weight", "model.norm.weight": "norm.weight",
           "model.hc_head.hc_fn": "hc_head_fn", "model.hc_head.hc_base": "hc_head_base",
           "model.hc_head.hc_scale": "hc_head_scale", "head.weight": "head.weight", "lm_head.weight": "head.weight"}
    w = {}
    for k, (_, t) in read_safetensors(os.path.join(fdir, "model.safetensors")).items():
        if k in top:
            w[top[k]] = t
        else:
            assert k.startswith("model.layers."), k
            k = k[len("model."):]
            w[k.replace(".attn.norm.weight", ".attn.kv_norm.weight")] = t
    return w


# --------------------------------------------------------------------------------------------------
# model (float64)
# --------------------------------------------------------------------------------------------------
def inv_freq(r, base, yarn):
    f = (1.0 / (base ** (np.arange(0, r, 2, dtype=F32) / F32(r)))).astype(F32)
    if yarn:
        orig, factor = yarn["original_max_position_embeddings"], yarn["factor"]

        def corr(n):
            return r * math.log(orig / (n * 2 * math.pi)) / (2 * math.log(base))
        low, high = max(math.floor(corr(yarn["beta_fast"])), 0), min(math.ceil(corr(yarn["beta_slow"])), r - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(r // 2, dtype=F32) - low) / F32(high - low), 0, 1).astype(F32)
        f = (f / F32(factor) * ramp + f * (1 - ramp)).astype(F32)
    return f


class Rope:
    def __init__(self, r, base, yarn):
        self.r, self.f = r, inv_freq(r, base, yarn)

    def __call__(self, x, pos, sign=1.0):
        """Interleaved RoPE on the trailing r dims of x[..., T?, dim]; pos broadcast against x's row axis."""
        ang = (np.asarray(pos, F32)[:, None] * self.f[None, :]).astype(F32)
        cos, sin = np.cos(ang).astype(np.float64), sign * np.sin(ang).astype(np.float64)
        shape = (len(pos),) + (1,) * (x.ndim - 2) + (self.r // 2,)
        cos, sin = cos.reshape(shape), sin.reshape(shape)
        y = x.copy()
        x0, x1 = x[..., -self.r::2], x[..., -self.r + 1::2]
        y[..., -self.r::2] = x0 * cos - x1 * sin
        y[..., -self.r + 1::2] = x1 * cos + x0 * sin
        return y


def rms(x, w, eps):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return y * w if w is not None else y


class Model:
    def __init__(self, s, w, common, paper):
        self.s, self.w, self.c, self.paper = s, w, common, paper
        self.eps, self.hc_eps = common["rms_norm_eps"], common["hc_eps"]
        self.main_rope = Rope(s["r"], common["rope_theta"], None)
        self.comp_rope = Rope(s["r"], common["compress_rope_theta"], s["yarn"])

    def kv_store(self, x):  # the paper's FP8/BF16 storage of window and compressed entries
        if not self.paper:
            return x
        return fp8_rope_round_trip(x.astype(F32), self.s["r"]).astype(np.float64)

    def idx_store(self, x):  # Hadamard + FP4
        if not self.paper:
            return x
        return fp4_round_trip(hadamard(x.astype(F32))).astype(np.float64)

    def compress(self, p, x, m, dim, overlap, rope):
        """Closed-window entries [n, dim] of compressor p (prefix) over x [T, D]; RoPE at w*m."""
        T = x.shape[0]
        n = T // m
        if n == 0:
            return np.zeros((0, dim))
        kv = x @ self.w[p + "wkv.weight"].T
        gate = x @ self.w[p + "wgate.weight"].T + self.w[p + "ape"][np.arange(T) % m]
        kv, gate = kv[:n * m].reshape(n, m, -1), gate[:n * m].reshape(n, m, -1)
        if overlap:
            skv = np.zeros((n, 2 * m, dim))
            sg = np.full((n, 2 * m, dim), -np.inf)
            skv[:, m:], sg[:, m:] = kv[..., dim:], gate[..., dim:]
            skv[1:, :m], sg[1:, :m] = kv[:-1, :, :dim], gate[:-1, :, :dim]
        else:
            skv, sg = kv, gate
        e = (skv * softmax(sg, 1)).sum(1)
        e = rms(e, self.w[p + "norm.weight"], self.eps)
        return rope(e, np.arange(n) * m)

    def prefix(self, i):
        """Block i's tensor prefix: layers.i for the main layers, mtp.(i - L) for the MTP blocks after them."""
        return f"layers.{i}." if i < self.s["L"] else f"mtp.{i - self.s['L']}."

    def attention(self, i, x, ids):
        s, w, P = self.s, self.w, self.prefix(i) + "attn."
        T, H, d = x.shape[0], s["H"], s["d"]
        m = s["ratios"][i] if i < s["L"] else 0  # an MTP block is sliding-only
        rope = self.main_rope if m == 0 else self.comp_rope
        pos = np.arange(T)
        q_res = rms(x @ w[P + "wq_a.weight"].T, w[P + "q_norm.weight"], self.eps)
        q = rms((q_res @ w[P + "wq_b.weight"].T).reshape(T, H, d), None, self.eps)
        q = rope(q, pos)
        kv = rope(rms(x @ w[P + "wkv.weight"].T, w[P + "kv_norm.weight"], self.eps), pos)
        kv = self.kv_store(kv)
        win = (pos[None, :] <= pos[:, None]) & (pos[None, :] > pos[:, None] - s["window"])  # [t, s]
        keys, mask = kv, win
        if m:
            comp = self.kv_store(self.compress(P + "compressor.", x, m, d, m == 4, rope))
            n = comp.shape[0]
            vis = np.arange(n)[None, :] < ((pos + 1) // m)[:, None]  # [t, w]
            if m == 4:
                vis = vis & self.indexer_picks(P, x, q_res, n, vis)
            keys, mask = np.concatenate([kv, comp], 0), np.concatenate([win, vis], 1)
        lg = np.einsum("thd,sd->ths", q, keys) / math.sqrt(d)
        lg = np.where(mask[:, None, :], lg, -np.inf)
        sink = w[P + "attn_sink"][None, :, None]
        mx = np.maximum(lg.max(-1, keepdims=True), sink)
        pr = np.exp(lg - mx)
        pr = pr / (pr.sum(-1, keepdims=True) + np.exp(sink - mx))
        o = np.einsum("ths,sd->thd", pr, keys)
        o = rope(o, pos, sign=-1.0).reshape(T, s["o_groups"], -1)
        wo_a = w[P + "wo_a.weight"].reshape(s["o_groups"], s["o_lora"], -1)
        z = np.einsum("tgi,goi->tgo", o, wo_a).reshape(T, -1)
        return z @ w[P + "wo_b.weight"].T

    def indexer_picks(self, P, x, q_res, n, vis):
        s, w = self.s, self.w
        T, HI, di = x.shape[0], s["idx_heads"], s["idx_dim"]
        keys = self.idx_store(self.compress(P + "indexer.compressor.", x, 4, di, True, self.comp_rope))
        qi = (q_res @ w[P + "indexer.wq_b.weight"].T).reshape(T, HI, di)
        qi = self.idx_store(self.comp_rope(qi, np.arange(T)))
        wt = (x @ w[P + "indexer.weights_proj.weight"].T) / math.sqrt(HI)
        sc = (np.maximum(np.einsum("thd,sd->ths", qi, keys), 0) / math.sqrt(di) * wt[..., None]).sum(1)
        sc = np.where(vis, sc, -np.inf)
        k = min(s["topk"], n)
        top = np.argsort(-sc, axis=-1, kind="stable")[:, :k]
        pick = np.zeros((T, n), bool)
        np.put_along_axis(pick, top, True, axis=-1)
        return pick

    def ffn(self, i, h, ids):
        s, w, P = self.s, self.w, self.prefix(i) + "ffn."
        L = s["swiglu"]

        def expert(p, v):
            g = np.minimum(v @ w[p + "w1.weight"].T, L)
            u = np.clip(v @ w[p + "w3.weight"].T, -L, L)
            return (silu(g) * u) @ w[p + "w2.weight"].T
        scores = np.sqrt(np.logaddexp(0.0, h @ w[P + "gate.weight"].T))
        if i < s["n_hash"]:
            idx = w[P + "gate.tid2eid"][ids]
        else:
            idx = np.argsort(-(scores + w[P + "gate.bias"]), axis=-1, kind="stable")[:, :s["K"]]
        wt = np.take_along_axis(scores, idx, -1)
        wt = wt / (wt.sum(-1, keepdims=True) + 1e-20) * self.c["routed_scaling_factor"]
        out = expert(P + "shared_experts.", h)
        for e in range(s["E"]):
            rows, slot = np.nonzero(idx == e)
            if len(rows):
                out[rows] += expert(P + f"experts.{e}.", h[rows]) * wt[rows, slot][:, None]
        return out

    def hc(self, X, fn, base, scale):
        n, T = self.c["hc_mult"], X.shape[0]
        f = rms(X.reshape(T, -1), None, self.eps) @ fn.T
        pre = sigmoid(f[:, :n] * scale[0] + base[:n]) + self.hc_eps
        post = 2 * sigmoid(f[:, n:2 * n] * scale[1] + base[n:2 * n])
        comb = softmax(f[:, 2 * n:].reshape(T, n, n) * scale[2] + base[2 * n:].reshape(n, n), -1) + self.hc_eps
        comb = comb / (comb.sum(-2, keepdims=True) + self.hc_eps)
        for _ in range(self.c["hc_sinkhorn_iters"] - 1):
            comb = comb / (comb.sum(-1, keepdims=True) + self.hc_eps)
            comb = comb / (comb.sum(-2, keepdims=True) + self.hc_eps)
        return post, comb, (pre[..., None] * X).sum(1)

    def block(self, i, X, ids):
        """One V4 block over the hyper-connection streams X [T, n, D]."""
        w, P = self.w, self.prefix(i)
        for kind in ("attn", "ffn"):
            post, comb, col = self.hc(X, w[f"{P}hc_{kind}_fn"], w[f"{P}hc_{kind}_base"], w[f"{P}hc_{kind}_scale"])
            h = rms(col, w[f"{P}{kind}_norm.weight"], self.eps)
            y = self.attention(i, h, ids) if kind == "attn" else self.ffn(i, h, ids)
            X = post[..., None] * y[:, None, :] + np.einsum("tjk,tjd->tkd", comb, X)
        return X

    def head(self, X, P=""):
        """hc_head (P's hc_head_*), then P's norm, then the shared head."""
        w, T = self.w, X.shape[0]
        f = rms(X.reshape(T, -1), None, self.eps) @ w[P + "hc_head_fn"].T
        pre = sigmoid(f * w[P + "hc_head_scale"] + w[P + "hc_head_base"]) + self.hc_eps
        y = rms((pre[..., None] * X).sum(1), w[P + "norm.weight"], self.eps)
        return y @ w["head.weight"].T

    def forward(self, ids, streams=False):
        """Logits [T, V] (and the last layer's streams [T, n, D], which the MTP block reads)."""
        w, n = self.w, self.c["hc_mult"]
        X = np.repeat(w["embed.weight"][ids][:, None, :], n, 1)
        for i in range(self.s["L"]):
            X = self.block(i, X, ids)
        return (self.head(X), X) if streams else self.head(X)

    def mtp_forward(self, X, ids):
        """The MTP block (reference inference/model.py MTPBlock) at positions 0..T-2: from the main streams X[t]
        and the embedding of token t+1, logits [T-1, V] for token t+2 (reference/nano/mtp.py has the math)."""
        w, L, P = self.w, self.s["L"], "mtp.0."
        e = rms(w["embed.weight"][ids[1:]], w[P + "enorm.weight"], self.eps)
        h = rms(X[:-1], w[P + "hnorm.weight"], self.eps)
        x = (e @ w[P + "e_proj.weight"].T)[:, None, :] + h @ w[P + "h_proj.weight"].T
        return self.head(self.block(L, x, ids[1:]), P)


# --------------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--fixtures", default=FIXTURE_ROOT)
    a = ap.parse_args()
    self_test()
    ns = fixture_specs()
    ok = True
    for s in ns["FIXTURES"]:
        if a.only and s["name"] not in a.only:
            continue
        t0 = time.time()
        fdir = os.path.join(a.fixtures, s["name"])
        w = load_hf(fdir) if s["layout"] == "hf" else load_official(fdir)
        ids = np.load(os.path.join(fdir, "ids.npy")).astype(np.int64)
        ref = np.load(os.path.join(fdir, "logits.npy")).astype(np.float64)
        exact = Model(s, w, ns["COMMON"], False).forward(ids)
        d_exact = float(np.abs(exact - ref).max())
        top_exact = float((exact.argmax(-1) == ref.argmax(-1)).mean())
        paper = Model(s, w, ns["COMMON"], True).forward(ids)
        agree = float((paper.argmax(-1) == ref.argmax(-1)).mean())
        rel = float(np.linalg.norm(paper - ref) / np.linalg.norm(ref))
        good = d_exact < 1e-3 and top_exact == 1.0 and np.isfinite(paper).all()
        ok &= bool(good)
        if good:
            np.save(os.path.join(fdir, "logits_paper.npy"), paper.astype(np.float32))
        print(f"[{s['name']}] exact-storage numpy vs logits.npy: max|diff| {d_exact:.3g}, top-1 {top_exact:.4f}; "
              f"paper vs logits.npy: top-1 {agree:.4f}, relative L2 {rel:.4g}  "
              f"{'written' if good else 'CHECK FAILED, not written'} ({time.time() - t0:.1f}s)")
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
