"""baleen-nano's shape, and its export in DeepSeek's official checkpoint layout, through reference/make_fixtures.py.

The nano model is described in the same spec-dict form as the fixtures (spec.py), so make_fixtures' `hf_config`
builds its transformers config and `export_official` writes it: config.json (HF-repo spelling), inference/config.json
(ModelArgs spelling), two shards + index, FP8 e4m3 128x128-block linears and FP4 e2m1 experts with ue8m0 scales
(storage "fp8fp4"), or BF16 weights with F32 small parameters (storage "bf16"); every stored byte is decoded back
and checked. It returns the dequantized weights in transformers' names, which train.py scores again.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]
import make_fixtures as mf  # noqa: E402
from spec import NANO  # noqa: E402


def nano_config(shape=NANO):
    cfg = mf.hf_config(shape)
    cfg.use_cache = False
    return cfg


def write_variants(model, out_dir, shape=NANO):
    """Writes out_dir/bf16 and out_dir/fp8 (instruct format); returns {variant: (hf state dict, meta)}."""
    result = {}
    for name, storage in (("bf16", "bf16"), ("fp8", "fp8fp4")):
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        meta = {}
        deq = mf.export_official(dict(shape, storage=storage), model, d, meta)
        result[name] = (deq, {k: v for k, v in meta.items() if k != "official_tensors"})
    return result
