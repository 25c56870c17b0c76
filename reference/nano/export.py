"""baleen-nano's shape, and its export in DeepSeek's official checkpoint layout, through reference/make_fixtures.py.

The nano model is described in the same spec-dict form as the fixtures, so make_fixtures' `hf_config` builds its
transformers config and `export_official` writes it: config.json (HF-repo spelling), inference/config.json
(ModelArgs spelling), two shards + index, FP8 e4m3 128x128-block linears and FP4 e2m1 experts with ue8m0 scales
(storage "fp8fp4"), or BF16 weights with F32 small parameters (storage "bf16"); every stored byte is decoded back
and checked. It returns the dequantized weights in transformers' names, which train.py scores again.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import make_fixtures as mf  # noqa: E402

NANO = dict(vocab=129280, D=256, L=9, H=4, d=128, r=32, q_lora=128, o_groups=2, o_lora=128, E=8, K=2, F=256,
            idx_heads=4, idx_dim=64, topk=16, window=128, ratios=[0, 0, 4, 16, 4, 16, 4, 16, 4], n_hash=2,
            swiglu=10.0, yarn=dict(factor=16, original_max_position_embeddings=65536, beta_fast=32, beta_slow=1),
            max_pos=1048576, storage="bf16")


def nano_config():
    cfg = mf.hf_config(NANO)
    cfg.use_cache = False
    return cfg


def write_variants(model, out_dir):
    """Writes out_dir/bf16 and out_dir/fp8 (instruct format); returns {variant: (hf state dict, meta)}."""
    result = {}
    for name, storage in (("bf16", "bf16"), ("fp8", "fp8fp4")):
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        meta = {}
        deq = mf.export_official(dict(NANO, storage=storage), model, d, meta)
        result[name] = (deq, {k: v for k, v in meta.items() if k != "official_tensors"})
    return result
