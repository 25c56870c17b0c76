#!/usr/bin/env python3
"""Correctness-oracle fixtures for baleen (issue 2, deliverable 6).

Builds small random-weight DeepSeek-V4 models with Hugging Face transformers' `DeepseekV4ForCausalLM`,
randomises every parameter and buffer, writes checkpoints in the layouts baleen loads, and records
reference logits (full-sequence float32 forward, plus token-by-token decode with transformers' cache).

Run on the GPU machine from the repository root (needs torch, transformers>=5.17, safetensors, numpy):
    PYTHONUNBUFFERED=1 python3 reference/make_fixtures.py            # all fixtures -> tests/fixtures/<name>/
    python3 reference/make_fixtures.py --only official_fp8_fp4       # one fixture
Outputs per fixture: config.json, checkpoint(s), ids.npy, logits.npy, logits_incremental.npy, meta.json
(official-layout fixtures also carry inference/config.json, the reference code's ModelArgs spelling).
See reference/NOTES.md for the formats and the math, tests/fixtures/README.md for the fixture list.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import struct
import sys
import time
import traceback

import numpy as np
import torch

import transformers
from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIXTURE_ROOT = os.path.join(REPO, "tests", "fixtures")

# --------------------------------------------------------------------------------------------------
# Fixture specifications
# ratios: one entry per layer, 0 = sliding-only, 4 = CSA (overlapping compressor + indexer), other m = HCA.
# --------------------------------------------------------------------------------------------------
COMMON = dict(hc_mult=4, hc_sinkhorn_iters=20, hc_eps=1e-6, rms_norm_eps=1e-6, rope_theta=10000.0,
              compress_rope_theta=160000.0, routed_scaling_factor=1.5, n_shared_experts=1)

FIXTURES = [
    dict(name="csa_hca_learned_hf", layout="hf", storage="fp32", seed=1001, T=160,
         vocab=512, D=128, L=4, H=4, d=64, r=16, q_lora=64, o_groups=2, o_lora=32, E=8, K=2, F=96,
         idx_heads=2, idx_dim=32, topk=8, window=16, ratios=[0, 4, 16, 4], n_hash=1, swiglu=1.5,
         yarn=dict(factor=4.0, original_max_position_embeddings=256, beta_fast=32, beta_slow=1), max_pos=1024,
         notes="transformers save_pretrained layout + transformers config spelling; HCA ratio 16 "
               "(10 closed windows at T=160); CSA index_topk 8 < 40 visible entries; window 16; YaRN on."),
    dict(name="hash_yarn_off", layout="official", storage="bf16", seed=1002, T=192,
         vocab=768, D=128, L=4, H=2, d=64, r=16, q_lora=96, o_groups=2, o_lora=48, E=6, K=2, F=64,
         idx_heads=4, idx_dim=32, topk=8, window=32, ratios=[0, 4, 4, 0], n_hash=2, swiglu=4.0,
         yarn=None, max_pos=1024,
         notes="official layout, unquantized (BF16 weights, F32 small params), 2 hash-routed layers, "
               "YaRN off (compress layers use plain RoPE base 160000), window 32, index_topk 8 < 48."),
    dict(name="official_fp8_fp4", layout="official", storage="fp8fp4", seed=1003, T=160,
         vocab=640, D=256, L=4, H=4, d=64, r=16, q_lora=192, o_groups=2, o_lora=96, E=8, K=2, F=160,
         idx_heads=2, idx_dim=64, topk=6, window=32, ratios=[4, 16, 0, 4], n_hash=1, swiglu=2.0,
         yarn=dict(factor=8.0, original_max_position_embeddings=128, beta_fast=32, beta_slow=1), max_pos=1024,
         notes="official layout with FP8 e4m3 128x128 block-scaled linears (ue8m0 scales, partial blocks: "
               "q_lora_rank 192, o_lora 96 -> wo_b in 192, F=160) and FP4 e2m1 routed experts (ue8m0 per 32); "
               "reference logits computed from the exactly dequantized stored values."),
    dict(name="hca128_long", layout="official", storage="bf16", seed=1004, T=640,
         vocab=512, D=128, L=4, H=4, d=64, r=16, q_lora=64, o_groups=2, o_lora=32, E=8, K=2, F=64,
         idx_heads=2, idx_dim=32, topk=32, window=128, ratios=[0, 128, 4, 128], n_hash=1, swiglu=3.0,
         yarn=dict(factor=4.0, original_max_position_embeddings=256, beta_fast=32, beta_slow=1), max_pos=1024,
         notes="real HCA ratio 128 over 640 tokens (5 closed windows), window 128, CSA index_topk 32 < 160."),
]

FP4_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                      dtype=np.float32)


def layer_type(ratio):
    return {0: "sliding_attention", 4: "compressed_sparse_attention"}.get(ratio, "heavily_compressed_attention")


def hf_config(s):
    hca = sorted({r for r in s["ratios"] if r not in (0, 4)})
    assert len(hca) <= 1, "transformers supports one HCA ratio per model"
    kw = dict(COMMON)
    kw.update(
        vocab_size=s["vocab"], hidden_size=s["D"], num_hidden_layers=s["L"], num_attention_heads=s["H"],
        num_key_value_heads=1, head_dim=s["d"], qk_rope_head_dim=s["r"], q_lora_rank=s["q_lora"],
        o_groups=s["o_groups"], o_lora_rank=s["o_lora"], n_routed_experts=s["E"], num_experts_per_tok=s["K"],
        moe_intermediate_size=s["F"], index_n_heads=s["idx_heads"], index_head_dim=s["idx_dim"],
        index_topk=s["topk"], sliding_window=s["window"],
        layer_types=[layer_type(r) for r in s["ratios"]],
        mlp_layer_types=["hash_moe"] * s["n_hash"] + ["moe"] * (s["L"] - s["n_hash"]),
        compress_rates={"compressed_sparse_attention": 4, "heavily_compressed_attention": hca[0] if hca else 128},
        swiglu_limit=s["swiglu"], max_position_embeddings=s["max_pos"], scoring_func="sqrtsoftplus",
        bos_token_id=0, eos_token_id=1, tie_word_embeddings=False, num_nextn_predict_layers=0,
    )
    if s["yarn"]:
        kw["rope_scaling"] = dict(type="yarn", **s["yarn"])
    cfg = DeepseekV4Config(**kw)
    cfg._attn_implementation = "eager"
    return cfg


def official_config(s):
    """Root config.json in the spelling of the DeepSeek-V4 Hugging Face repos."""
    c = {
        "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
        "vocab_size": s["vocab"], "hidden_size": s["D"], "num_hidden_layers": s["L"],
        "num_attention_heads": s["H"], "num_key_value_heads": 1, "head_dim": s["d"],
        "qk_rope_head_dim": s["r"], "q_lora_rank": s["q_lora"], "o_groups": s["o_groups"],
        "o_lora_rank": s["o_lora"], "moe_intermediate_size": s["F"], "n_routed_experts": s["E"],
        "n_shared_experts": 1, "num_experts_per_tok": s["K"], "scoring_func": "sqrtsoftplus",
        "topk_method": "noaux_tc", "norm_topk_prob": True, "routed_scaling_factor": COMMON["routed_scaling_factor"],
        "num_hash_layers": s["n_hash"], "swiglu_limit": s["swiglu"], "sliding_window": s["window"],
        "compress_ratios": list(s["ratios"]) + [0] * s.get("mtp", 0),  # + the MTP blocks' (sliding), as V4's
        "compress_rope_theta": COMMON["compress_rope_theta"],
        "rope_theta": COMMON["rope_theta"], "max_position_embeddings": s["max_pos"],
        "index_n_heads": s["idx_heads"], "index_head_dim": s["idx_dim"], "index_topk": s["topk"],
        "hc_mult": COMMON["hc_mult"], "hc_sinkhorn_iters": COMMON["hc_sinkhorn_iters"], "hc_eps": COMMON["hc_eps"],
        "rms_norm_eps": COMMON["rms_norm_eps"], "num_nextn_predict_layers": s.get("mtp", 0), "hidden_act": "silu",
        "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    }
    if s["yarn"]:
        c["rope_scaling"] = dict(type="yarn", **s["yarn"])
    if s["storage"] == "fp8fp4":
        c["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                                    "weight_block_size": [128, 128]}
        c["expert_dtype"] = "fp4"
    return c


def inference_config(s):
    """inference/config.json in the reference code's ModelArgs spelling."""
    y = s["yarn"]
    c = {
        "vocab_size": s["vocab"], "dim": s["D"], "moe_inter_dim": s["F"], "n_layers": s["L"],
        "n_hash_layers": s["n_hash"], "n_mtp_layers": s.get("mtp", 0), "n_heads": s["H"], "n_routed_experts": s["E"],
        "n_shared_experts": 1, "n_activated_experts": s["K"], "score_func": "sqrtsoftplus",
        "route_scale": COMMON["routed_scaling_factor"], "swiglu_limit": s["swiglu"], "q_lora_rank": s["q_lora"],
        "head_dim": s["d"], "rope_head_dim": s["r"], "norm_eps": COMMON["rms_norm_eps"], "o_groups": s["o_groups"],
        "o_lora_rank": s["o_lora"], "window_size": s["window"],
        "original_seq_len": y["original_max_position_embeddings"] if y else 0,
        "rope_theta": COMMON["rope_theta"], "rope_factor": y["factor"] if y else 1.0,
        "beta_fast": y["beta_fast"] if y else 32, "beta_slow": y["beta_slow"] if y else 1,
        "index_n_heads": s["idx_heads"], "index_head_dim": s["idx_dim"], "index_topk": s["topk"],
        "hc_mult": COMMON["hc_mult"], "hc_sinkhorn_iters": COMMON["hc_sinkhorn_iters"], "hc_eps": COMMON["hc_eps"],
        "dtype": "fp8" if s["storage"] == "fp8fp4" else "bf16",
        "compress_rope_theta": COMMON["compress_rope_theta"],
        "compress_ratios": list(s["ratios"]) + [0] * s.get("mtp", 0),
    }
    if s["storage"] == "fp8fp4":
        c["scale_fmt"] = "ue8m0"
        c["expert_dtype"] = "fp4"
    return c


# --------------------------------------------------------------------------------------------------
# Randomisation
# --------------------------------------------------------------------------------------------------
def randomize(model, cfg, gen):
    D, n = cfg.hidden_size, cfg.hc_mult
    seen = set()

    def randn(shape, std=1.0, mean=0.0):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std + mean

    def rand(shape, lo, hi):
        return torch.rand(shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo

    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            leaf = name.split(".")[-1]
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                v = randn(shape, 0.1, 1.0)                      # RMSNorm gains 1 +- 0.1
            elif leaf == "sinks":
                v = randn(shape, 1.0)                           # sink logits
            elif leaf == "position_bias":
                v = randn(shape, 0.5)                           # compressor / indexer ape
            elif name.endswith("_hc.fn"):
                v = randn(shape, 1.0 / math.sqrt(n * D))        # mix ~ N(0,1) on a unit-RMS input
            elif name.endswith("_hc.base"):
                v = randn(shape, 0.5)
            elif name.endswith("_hc.scale"):
                v = rand(shape, 0.5, 1.5)
            elif name.endswith("hc_head.hc_fn"):
                v = randn(shape, 1.0 / math.sqrt(n * D))
            elif name.endswith("hc_head.hc_base"):
                v = randn(shape, 0.5)
            elif name.endswith("hc_head.hc_scale"):
                v = rand(shape, 0.5, 1.5)
            elif name.endswith("experts.gate_up_proj"):        # [E, 2F, D]
                v = randn(shape, 1.0 / math.sqrt(shape[-1]))
            elif name.endswith("experts.down_proj"):           # [E, D, F]
                v = randn(shape, 1.0 / math.sqrt(shape[-1]))
            elif name.endswith("embed_tokens.weight"):
                v = randn(shape, 1.0)
            elif name == "lm_head.weight":
                v = randn(shape, 2.5 / math.sqrt(shape[-1]))    # logits std ~2.5
            elif name.endswith("mlp.gate.weight"):
                v = randn(shape, 1.5 / math.sqrt(shape[-1]))    # router logits ~N(0, 1.5^2)
            elif p.dim() == 2 and name.endswith(".weight"):
                v = randn(shape, 1.0 / math.sqrt(shape[-1]))    # plain linears
            else:
                raise RuntimeError(f"no randomisation rule for parameter {name} {shape}")
            p.copy_(v)
            seen.add(name)
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(randn(tuple(b.shape), 0.3))
                seen.add(name)
            elif name.endswith("tid2eid"):
                V, K = b.shape
                E = cfg.n_routed_experts
                rows = torch.stack([torch.randperm(E, generator=gen)[:K] for _ in range(V)])
                b.copy_(rows.to(b.dtype))
                seen.add(name)
            elif "inv_freq" in name:
                pass  # derived from the config (checked separately against the official formula)
            else:
                raise RuntimeError(f"no randomisation rule for buffer {name}")
    persistent = set(model.state_dict().keys())
    missing = persistent - seen
    if missing:
        raise RuntimeError(f"state_dict entries left unrandomised: {sorted(missing)}")
    return sorted(seen)


# --------------------------------------------------------------------------------------------------
# transformers <-> official names
# --------------------------------------------------------------------------------------------------
ATTN_MAP = {  # transformers leaf under model.layers.N.self_attn. -> official leaf under layers.N.attn.
    "sinks": "attn_sink", "q_a_proj.weight": "wq_a.weight", "q_a_norm.weight": "q_norm.weight",
    "q_b_proj.weight": "wq_b.weight", "kv_proj.weight": "wkv.weight", "kv_norm.weight": "kv_norm.weight",
    "o_a_proj.weight": "wo_a.weight", "o_b_proj.weight": "wo_b.weight",
    "compressor.kv_proj.weight": "compressor.wkv.weight", "compressor.gate_proj.weight": "compressor.wgate.weight",
    "compressor.position_bias": "compressor.ape", "compressor.kv_norm.weight": "compressor.norm.weight",
    "compressor.indexer.kv_proj.weight": "indexer.compressor.wkv.weight",
    "compressor.indexer.gate_proj.weight": "indexer.compressor.wgate.weight",
    "compressor.indexer.position_bias": "indexer.compressor.ape",
    "compressor.indexer.kv_norm.weight": "indexer.compressor.norm.weight",
    "compressor.indexer.q_b_proj.weight": "indexer.wq_b.weight",
    "compressor.indexer.scorer.weights_proj.weight": "indexer.weights_proj.weight",
}
LAYER_MAP = {  # transformers leaf under model.layers.N. -> official leaf under layers.N.
    "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "attn_hc.fn": "hc_attn_fn", "attn_hc.base": "hc_attn_base", "attn_hc.scale": "hc_attn_scale",
    "ffn_hc.fn": "hc_ffn_fn", "ffn_hc.base": "hc_ffn_base", "ffn_hc.scale": "hc_ffn_scale",
    "mlp.gate.weight": "ffn.gate.weight", "mlp.gate.e_score_correction_bias": "ffn.gate.bias",
    "mlp.gate.tid2eid": "ffn.gate.tid2eid", "mlp.shared_experts.gate_proj.weight": "ffn.shared_experts.w1.weight",
    "mlp.shared_experts.up_proj.weight": "ffn.shared_experts.w3.weight",
    "mlp.shared_experts.down_proj.weight": "ffn.shared_experts.w2.weight",
}
TOP_MAP = {"model.embed_tokens.weight": "embed.weight", "lm_head.weight": "head.weight",
           "model.norm.weight": "norm.weight", "model.hc_head.hc_fn": "hc_head_fn",
           "model.hc_head.hc_base": "hc_head_base", "model.hc_head.hc_scale": "hc_head_scale"}


def hf_to_official(sd, F):
    out = {}
    for k, v in sd.items():
        if k in TOP_MAP:
            out[TOP_MAP[k]] = v
            continue
        if k.startswith("mtp."):  # reference/nano/mtp.py names its parameters the official way
            out[k] = v
            continue
        parts = k.split(".")
        assert parts[0] == "model" and parts[1] == "layers", k
        i, rest = parts[2], ".".join(parts[3:])
        if rest.startswith("self_attn."):
            out[f"layers.{i}.attn.{ATTN_MAP[rest[len('self_attn.'):]]}"] = v
        elif rest == "mlp.experts.gate_up_proj":         # [E, 2F, D]: rows [0,F) gate = w1, [F,2F) up = w3
            for e in range(v.shape[0]):
                out[f"layers.{i}.ffn.experts.{e}.w1.weight"] = v[e, :F].contiguous()
                out[f"layers.{i}.ffn.experts.{e}.w3.weight"] = v[e, F:].contiguous()
        elif rest == "mlp.experts.down_proj":            # [E, D, F]
            for e in range(v.shape[0]):
                out[f"layers.{i}.ffn.experts.{e}.w2.weight"] = v[e].contiguous()
        else:
            out[f"layers.{i}.{LAYER_MAP[rest]}"] = v
    return out


def official_to_hf(od, L, E):
    inv_top = {v: k for k, v in TOP_MAP.items()}
    inv_attn = {v: k for k, v in ATTN_MAP.items()}
    inv_layer = {v: k for k, v in LAYER_MAP.items()}
    sd, experts = {}, {}
    for k, v in od.items():
        if k in inv_top or k.startswith("mtp."):
            sd[inv_top.get(k, k)] = v
            continue
        parts = k.split(".")
        assert parts[0] == "layers", k
        i, rest = parts[1], ".".join(parts[2:])
        if rest.startswith("attn."):
            sd[f"model.layers.{i}.self_attn.{inv_attn[rest[5:]]}"] = v
        elif rest.startswith("ffn.experts."):
            e, w = int(parts[4]), parts[5]
            experts[(int(i), e, w)] = v
        else:
            sd[f"model.layers.{i}.{inv_layer[rest]}"] = v
    for i in range(L):
        if (i, 0, "w1") not in experts:
            continue
        sd[f"model.layers.{i}.mlp.experts.gate_up_proj"] = torch.stack(
            [torch.cat([experts[(i, e, "w1")], experts[(i, e, "w3")]], 0) for e in range(E)])
        sd[f"model.layers.{i}.mlp.experts.down_proj"] = torch.stack([experts[(i, e, "w2")] for e in range(E)])
    return sd


# --------------------------------------------------------------------------------------------------
# Quantisation in the official formats (+ an independent numpy decoder for verification)
# --------------------------------------------------------------------------------------------------
FP8_LINEARS = ("attn.wq_a.weight", "attn.wq_b.weight", "attn.wkv.weight", "attn.wo_a.weight", "attn.wo_b.weight",
               "attn.indexer.wq_b.weight", "ffn.shared_experts.w1.weight", "ffn.shared_experts.w2.weight",
               "ffn.shared_experts.w3.weight", "mtp.0.e_proj.weight", "mtp.0.h_proj.weight")
F32_SUFFIXES = ("attn_sink", ".ape", "ffn.gate.bias", "hc_attn_fn", "hc_attn_base", "hc_attn_scale", "hc_ffn_fn",
                "hc_ffn_base", "hc_ffn_scale", "hc_head_fn", "hc_head_base", "hc_head_scale")


def quant_fp8_block(w, block=128):
    """w [out, in] fp32 -> (e4m3 [out, in], ue8m0 byte scales [ceil(out/b), ceil(in/b)], dequantized fp32)."""
    out_f, in_f = w.shape
    so, si = -(-out_f // block), -(-in_f // block)
    wp = torch.zeros(so * block, si * block, dtype=torch.float64)
    wp[:out_f, :in_f] = w.double()
    amax = wp.view(so, block, si, block).abs().amax(dim=(1, 3))                 # [so, si]
    exp = torch.ceil(torch.log2(amax / 448.0)).to(torch.int64)
    exp = torch.where(amax / torch.pow(2.0, exp.double()) > 448.0, exp + 1, exp)  # guard log2 rounding
    assert int(exp.min()) > -127 and int(exp.max()) < 128
    scale_full = torch.pow(2.0, exp.double()).repeat_interleave(block, 0).repeat_interleave(block, 1)
    scale_full = scale_full[:out_f, :in_f]
    q = (w.double() / scale_full).float().to(torch.float8_e4m3fn)
    deq = (q.float().double() * scale_full).float()
    sbytes = (exp + 127).to(torch.uint8)
    return q, sbytes, deq


def quant_fp4_rows(w, block=32):
    """w [out, in] fp32 -> (packed int8 [out, in/2], ue8m0 byte scales [out, in/32], dequantized fp32).
    Element 2i of a row sits in the LOW nibble of byte i, element 2i+1 in the HIGH nibble."""
    out_f, in_f = w.shape
    assert in_f % block == 0 and in_f % 2 == 0
    wb = w.double().view(out_f, in_f // block, block)
    amax = wb.abs().amax(dim=-1)                                                   # [out, in/32]
    exp = torch.ceil(torch.log2(amax / 6.0)).to(torch.int64)
    exp = torch.where(amax / torch.pow(2.0, exp.double()) > 6.0, exp + 1, exp)
    assert int(exp.min()) > -127 and int(exp.max()) < 128
    x = wb / torch.pow(2.0, exp.double()).unsqueeze(-1)                            # |x| <= 6
    mags = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=torch.float64)
    idx = (x.abs().unsqueeze(-1) - mags).abs().argmin(dim=-1)                      # nearest magnitude
    sign = ((x < 0) & (idx > 0)).to(torch.int64)
    codes = (idx | (sign << 3)).view(out_f, in_f)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).to(torch.uint8)
    table = torch.tensor(FP4_VALUES, dtype=torch.float64)
    deq = (table[codes].view(out_f, in_f // block, block) * torch.pow(2.0, exp.double()).unsqueeze(-1))
    return packed.view(torch.int8), (exp + 127).to(torch.uint8), deq.view(out_f, in_f).float()


def np_decode_e4m3(b):
    b = b.astype(np.int64)
    s = np.where(b >> 7, -1.0, 1.0)
    e = (b >> 3) & 0xF
    m = b & 7
    v = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1.0 + m / 8.0) * np.power(2.0, e - 7))
    v = np.where((e == 15) & (m == 7), np.nan, v)
    return s * v


def np_decode_ue8m0(b):
    b = b.astype(np.int64)
    assert (b != 255).all()
    return np.power(2.0, b - 127)


def np_decode_fp8_weight(wbytes, sbytes, block=128):
    w = np_decode_e4m3(wbytes)
    s = np_decode_ue8m0(sbytes)
    s = np.repeat(np.repeat(s, block, 0), block, 1)[: w.shape[0], : w.shape[1]]
    return (w * s).astype(np.float32)


def np_decode_fp4_weight(wbytes, sbytes, block=32):
    u = wbytes.view(np.uint8).astype(np.int64)
    lo, hi = u & 0xF, u >> 4
    codes = np.empty((u.shape[0], u.shape[1] * 2), dtype=np.int64)
    codes[:, 0::2], codes[:, 1::2] = lo, hi
    vals = FP4_VALUES.astype(np.float64)[codes]
    s = np.repeat(np_decode_ue8m0(sbytes), block, 1)
    return (vals * s).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# A minimal safetensors writer (exact control over dtypes such as F8_E8M0 and I8) + reader of raw bytes
# --------------------------------------------------------------------------------------------------
ST_DTYPE = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float8_e4m3fn: "F8_E4M3",
            torch.float8_e8m0fnu: "F8_E8M0", torch.int8: "I8", torch.uint8: "U8", torch.int32: "I32",
            torch.int64: "I64"}


STORED_NP_DTYPE = {"F32": np.float32, "BF16": np.uint16, "F8_E4M3": np.uint8, "F8_E8M0": np.uint8, "I8": np.int8,
                   "I64": np.int64}


def np_decode_stored(raw, k):
    """The value of tensor k in a raw safetensors dict (read_safetensors_raw): FP8 / FP4 weights decoded with
    their `.scale` (ue8m0), BF16 widened to F32, the rest as stored."""
    dt, shape, b = raw[k]
    arr = np.frombuffer(b, dtype=STORED_NP_DTYPE[dt]).reshape(shape)
    if dt in ("F8_E4M3", "I8"):
        sdt, sshape, sb = raw[k[: -len(".weight")] + ".scale"]
        assert sdt == "F8_E8M0", k
        decode = np_decode_fp8_weight if dt == "F8_E4M3" else np_decode_fp4_weight
        return decode(arr, np.frombuffer(sb, np.uint8).reshape(sshape))
    if dt == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors_raw(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# Official checkpoint export
# --------------------------------------------------------------------------------------------------
def export_official(s, model, outdir, meta):
    F = s["F"]
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    od = hf_to_official(sd, F)
    stored, deq = {}, {}
    n_fp8 = n_fp4 = 0
    for k, v in od.items():
        if k.endswith("tid2eid"):
            stored[k] = v.to(torch.int64)
            deq[k] = v.to(torch.int64)
        elif any(k.endswith(sfx) for sfx in F32_SUFFIXES):
            stored[k] = v.float()
            deq[k] = v.float()
        elif s["storage"] == "fp8fp4" and ".ffn.experts." in k:
            q, sc, d = quant_fp4_rows(v)
            base = k[: -len(".weight")]
            stored[k], stored[base + ".scale"] = q, sc.view(torch.float8_e8m0fnu)
            deq[k] = d
            n_fp4 += 1
        elif s["storage"] == "fp8fp4" and any(k.endswith(sfx) for sfx in FP8_LINEARS):
            q, sc, d = quant_fp8_block(v)
            base = k[: -len(".weight")]
            stored[k], stored[base + ".scale"] = q, sc.view(torch.float8_e8m0fnu)
            deq[k] = d
            n_fp8 += 1
        else:
            b = v.to(torch.bfloat16)
            stored[k] = b
            deq[k] = b.float()
    # two shards + index, like the real repos
    names = sorted(stored)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map, total = {}, 0
    for fn, keys in shards.items():
        write_safetensors(os.path.join(outdir, fn), {k: stored[k] for k in keys})
        for k in keys:
            weight_map[k] = fn
            total += stored[k].numel() * stored[k].element_size()
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(official_config(s), f, indent=2)
    os.makedirs(os.path.join(outdir, "inference"), exist_ok=True)
    with open(os.path.join(outdir, "inference", "config.json"), "w") as f:
        json.dump(inference_config(s), f, indent=2)

    # independent verification: decode the bytes on disk with numpy and compare with what the reference uses
    raw = {}
    for fn in shards:
        raw.update(read_safetensors_raw(os.path.join(outdir, fn)))
    checked = 0
    for k in od:
        dt = raw[k][0]
        val = np_decode_stored(raw, k)
        ref = deq[k].numpy()
        if not np.array_equal(val.astype(ref.dtype), ref):
            raise RuntimeError(f"stored bytes of {k} ({dt}) do not decode to the reference values")
        checked += 1
    # safetensors' own reader (if it knows the dtypes) must agree too
    try:
        from safetensors import safe_open
        for fn in shards:
            with safe_open(os.path.join(outdir, fn), framework="pt") as f:
                for k in f.keys():
                    t = f.get_tensor(k)
                    assert torch.equal(t.view(torch.uint8), stored[k].contiguous().view(torch.uint8)), k
        meta["safetensors_library_readback"] = "ok"
    except Exception as e:  # noqa: BLE001
        meta["safetensors_library_readback"] = f"failed: {e!r}"
    # torch's own e4m3 / e8m0 decode as a second opinion
    if s["storage"] == "fp8fp4":
        try:
            for k in od:
                if raw[k][0] == "F8_E4M3":
                    sc = stored[k[: -len(".weight")] + ".scale"].float().double()
                    full = sc.repeat_interleave(128, 0).repeat_interleave(128, 1)[: od[k].shape[0], : od[k].shape[1]]
                    tv = (stored[k].float().double() * full).float()
                    assert torch.equal(tv, deq[k]), k
            meta["torch_e4m3_e8m0_decode_agrees"] = True
        except Exception as e:  # noqa: BLE001
            meta["torch_e4m3_e8m0_decode_agrees"] = f"failed: {e!r}"
        try:  # nibble order cross-check with torch's packed fp4 dtype, where supported
            k0 = next(k for k in od if raw[k][0] == "I8")
            t4 = stored[k0].view(torch.uint8).view(torch.float4_e2m1fn_x2)
            meta["torch_fp4_x2_view"] = f"ok, cannot convert to float here: {t4.dtype}"
            f32 = t4.to(torch.float32)
            meta["torch_fp4_x2_to_float_shape"] = list(f32.shape)
        except Exception as e:  # noqa: BLE001
            meta["torch_fp4_x2_note"] = repr(e)[:200]
    meta["official_tensors"] = {k: [raw[k][0], raw[k][1]] for k in sorted(raw)}
    meta["n_fp8_weights"], meta["n_fp4_weights"], meta["bytes_verified_tensors"] = n_fp8, n_fp4, checked
    return official_to_hf(deq, s["L"], s["E"])


# --------------------------------------------------------------------------------------------------
# Official RoPE frequencies (reference precompute_freqs_cis), to check transformers' buffers
# --------------------------------------------------------------------------------------------------
def official_inv_freq(dim, base, yarn):
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    if yarn:
        orig, factor, bf, bs = yarn["original_max_position_embeddings"], yarn["factor"], yarn["beta_fast"], yarn["beta_slow"]

        def corr(nrot):
            return dim * math.log(orig / (nrot * 2 * math.pi)) / (2 * math.log(base))
        low, high = max(math.floor(corr(bf)), 0), min(math.ceil(corr(bs)), dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        smooth = 1 - ramp
        freqs = freqs / factor * (1 - smooth) + freqs * smooth
    return freqs


# --------------------------------------------------------------------------------------------------
def run_logits(model, ids, device):
    with torch.no_grad():
        return model(torch.as_tensor(ids, dtype=torch.long, device=device)[None]).logits[0].float().cpu().numpy()


def incremental_logits(model, ids, device, chunks=None):
    x = torch.as_tensor(ids, dtype=torch.long, device=device)[None]
    T = x.shape[1]
    if chunks is None:
        chunks = [1] * T
    outs, cache, pos = [], None, 0
    with torch.no_grad():
        for c in chunks:
            o = model(x[:, pos:pos + c], past_key_values=cache, use_cache=True)
            cache = o.past_key_values
            outs.append(o.logits[0].float().cpu())
            pos += c
    assert pos == T
    return torch.cat(outs, 0).numpy()


def logits_stats(lg):
    am = lg.argmax(-1)
    return {"finite": bool(np.isfinite(lg).all()), "std": float(lg.std()), "mean": float(lg.mean()),
            "absmax": float(np.abs(lg).max()), "mean_row_std": float(lg.std(-1).mean()),
            "distinct_argmax": int(len(np.unique(am))), "max_softmax_prob_mean": float(
                (np.exp(lg - lg.max(-1, keepdims=True)) / np.exp(lg - lg.max(-1, keepdims=True)).sum(-1, keepdims=True))
                .max(-1).mean())}


def set_eager_experts(model):
    for fn in ("set_experts_implementation",):
        try:
            getattr(model, fn)("eager")
        except Exception:  # noqa: BLE001
            pass
    return getattr(model.config, "_experts_implementation", None)


def make_fixture(s, device, root):
    t0 = time.time()
    outdir = os.path.join(root, s["name"])
    os.makedirs(outdir, exist_ok=True)
    for fn in os.listdir(outdir):
        p = os.path.join(outdir, fn)
        if os.path.isfile(p):
            os.remove(p)
    meta = {"name": s["name"], "layout": s["layout"], "storage": s["storage"], "seed": s["seed"], "T": s["T"],
            "spec": {k: v for k, v in s.items() if k != "notes"}, "notes": s["notes"],
            "command": "PYTHONUNBUFFERED=1 python3 reference/make_fixtures.py --only " + s["name"],
            "torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "date_utc": datetime.datetime.utcnow().isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "tf32": False, "dtype": "float32"}
    gen = torch.Generator().manual_seed(s["seed"])
    cfg = hf_config(s)
    torch.manual_seed(s["seed"])
    model = DeepseekV4ForCausalLM(cfg).float()
    meta["experts_implementation"] = set_eager_experts(model)
    meta["attn_implementation"] = model.config._attn_implementation
    meta["randomised"] = len(randomize(model, cfg, gen))
    ids = torch.randint(0, s["vocab"], (s["T"],), generator=gen).numpy().astype(np.int32)

    # RoPE buffers vs the official formula
    rot = model.model.rotary_emb
    meta["rope_check"] = {
        "main_max_abs_diff": float((rot.main_inv_freq.cpu() - official_inv_freq(s["r"], COMMON["rope_theta"], None)).abs().max()),
        "compress_max_abs_diff": float((rot.compress_inv_freq.cpu() - official_inv_freq(
            s["r"], COMMON["compress_rope_theta"], s["yarn"])).abs().max()),
        "compress_attention_scaling": float(getattr(rot, "compress_attention_scaling")),
        "compress_inv_freq": rot.compress_inv_freq.cpu().tolist(),
    }

    if s["layout"] == "official":
        hf_sd = export_official(s, model, outdir, meta)
        missing, unexpected = model.load_state_dict(hf_sd, strict=True), None
        del missing, unexpected
    model.to(device).eval()
    logits = run_logits(model, ids, device)
    meta["logits_stats"] = logits_stats(logits)
    np.save(os.path.join(outdir, "ids.npy"), ids)
    np.save(os.path.join(outdir, "logits.npy"), logits.astype(np.float32))

    # incremental decode with transformers' cache
    try:
        inc = incremental_logits(model, ids, device)
        meta["incremental_max_abs_diff"] = float(np.abs(inc - logits).max())
        meta["incremental_argmax_agree"] = float((inc.argmax(-1) == logits.argmax(-1)).mean())
        np.save(os.path.join(outdir, "logits_incremental.npy"), inc.astype(np.float32))
    except Exception as e:  # noqa: BLE001
        meta["incremental_error"] = traceback.format_exc()[-2000:]
        print(f"[{s['name']}] incremental decode failed: {e!r}")
    try:  # chunked prefill (uneven chunks crossing window boundaries), diff only
        T = s["T"]
        chunks, left, c = [], T, [37, 1, 50, 3, 16]
        i = 0
        while left > 0:
            n = min(c[i % len(c)], left)
            chunks.append(n)
            left -= n
            i += 1
        ch = incremental_logits(model, ids, device, chunks)
        meta["chunked_prefill"] = {"chunks": chunks, "max_abs_diff": float(np.abs(ch - logits).max())}
    except Exception:  # noqa: BLE001
        meta["chunked_prefill_error"] = traceback.format_exc()[-2000:]

    if s["layout"] == "hf":
        model.save_pretrained(outdir)
        try:
            m2 = DeepseekV4ForCausalLM.from_pretrained(outdir, dtype=torch.float32, attn_implementation="eager")
            set_eager_experts(m2)
            m2.to(device).eval()
            meta["hf_reload_max_abs_diff"] = float(np.abs(run_logits(m2, ids, device) - logits).max())
            del m2
        except Exception:  # noqa: BLE001
            meta["hf_reload_error"] = traceback.format_exc()[-2000:]
        from safetensors import safe_open
        keys = {}
        for fn in sorted(os.listdir(outdir)):
            if fn.endswith(".safetensors"):
                with safe_open(os.path.join(outdir, fn), framework="pt") as f:
                    for k in f.keys():
                        t = f.get_slice(k)
                        keys[k] = [t.get_dtype(), t.get_shape()]
        meta["hf_saved_tensors"] = keys
    elif all(r in (0, 4, 128) for r in s["ratios"]) and s["storage"] != "fp8fp4":
        # transformers must load our official-layout checkpoint + official config and give the same logits
        try:
            m2 = DeepseekV4ForCausalLM.from_pretrained(outdir, dtype=torch.float32, attn_implementation="eager")
            set_eager_experts(m2)
            m2.to(device).eval()
            meta["hf_loads_official_max_abs_diff"] = float(np.abs(run_logits(m2, ids, device) - logits).max())
            meta["hf_loads_official_layer_types"] = list(m2.config.layer_types)
            del m2
        except Exception:  # noqa: BLE001
            meta["hf_loads_official_error"] = traceback.format_exc()[-3000:]
    else:
        meta["hf_loads_official"] = "skipped (HCA ratio not in {0,4,128} or FP8/FP4 storage)"

    st = meta["logits_stats"]
    checks = {"finite": st["finite"], "std_gt_0.5": st["std"] > 0.5,
              "argmax_varies": st["distinct_argmax"] >= min(10, s["T"] // 4)}
    if "incremental_max_abs_diff" in meta:
        checks["incremental_close"] = meta["incremental_max_abs_diff"] < 1e-3
    meta["checks"] = checks
    meta["files"] = {}
    for dp, _, fns in os.walk(outdir):
        for fn in sorted(fns):
            if fn == "meta.json":
                continue
            p = os.path.join(dp, fn)
            meta["files"][os.path.relpath(p, outdir)] = {"bytes": os.path.getsize(p), "sha256": sha256(p)}
    meta["seconds"] = round(time.time() - t0, 2)
    with open(os.path.join(outdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"[{s['name']}] done in {meta['seconds']}s checks={checks} inc={meta.get('incremental_max_abs_diff')} "
          f"chunk={meta.get('chunked_prefill', {}).get('max_abs_diff')} stats={st}")
    return all(checks.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--out", default=FIXTURE_ROOT)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    if a.device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    print(f"torch {torch.__version__} transformers {transformers.__version__} device {a.device}")
    ok = True
    for s in FIXTURES:
        if a.only and s["name"] not in a.only:
            continue
        try:
            ok &= make_fixture(s, a.device, a.out)
        except Exception:  # noqa: BLE001
            ok = False
            print(f"[{s['name']}] FAILED\n{traceback.format_exc()}")
    print("ALL OK" if ok else "SOME FIXTURES FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
