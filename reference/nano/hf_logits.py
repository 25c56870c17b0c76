#!/usr/bin/env python3
"""transformers' own logits on an exported baleen-nano (GPU machine; torch + transformers 5.17), for
tests/fixtures/nano_parity/hf_logits.npz beside the numpy reference's:

    python3 reference/nano/hf_logits.py --model DIR/fp8 --prompts tests/fixtures/nano_parity --out OUT

How transformers loads it: `from_pretrained(DIR)` fails (its config maps `compress_ratios` entries 0/4/128 only, and
the nano's HCA ratio is 16: KeyError 16; config.json has no `layer_types`), and its FP8/FP4 tensors are not a
format its loader reads. So the model is built from the nano's transformers config (make_fixtures.hf_config: the
same spec, `layer_types` + `compress_rates`) and given the weights decoded from the checkpoint's stored bytes
(train.py load_exported: FP8 x ue8m0 blocks, FP4 x ue8m0 per 32), fp32, eager attention, TF32 off. The MTP block
(transformers has none) is mtp.py's, with the checkpoint's mtp.0.* weights. Both attempts' outcomes go into meta.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]
import export  # noqa: E402
import mtp as mtp_block  # noqa: E402
from spec import SHAPES  # noqa: E402
import train  # noqa: E402


def load(model_dir, shape):
    from transformers import DeepseekV4ForCausalLM
    cfg = export.nano_config(SHAPES[shape])
    model = DeepseekV4ForCausalLM(cfg)
    has_mtp = json.load(open(os.path.join(model_dir, "config.json"))).get("num_nextn_predict_layers", 0) > 0
    if has_mtp:
        train.add_mtp(model, shape, 0)
    missing = train.load_exported(model, model_dir)
    return model.float().eval(), missing, has_mtp


def attempt_from_pretrained(model_dir, shape):
    from transformers import DeepseekV4ForCausalLM
    out = {}
    try:
        DeepseekV4ForCausalLM.from_pretrained(model_dir)
        out["plain"] = "loaded"
    except Exception as e:  # noqa: BLE001 -- the outcome is the record
        out["plain"] = f"{type(e).__name__}: {e}"[:300]
    try:
        DeepseekV4ForCausalLM.from_pretrained(model_dir, config=export.nano_config(SHAPES[shape]))
        out["with_converted_config"] = "loaded (weights not checked: the fp8 path is transformers' own)"
    except Exception as e:  # noqa: BLE001
        out["with_converted_config"] = f"{type(e).__name__}: {e}"[:300]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True, help="tests/fixtures/nano_parity (its NAME/ids.npy)")
    ap.add_argument("--shape", default="w256")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model, missing, has_mtp = load(a.model, a.shape)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    head = model.lm_head.weight
    rows = torch.nonzero(head.abs().sum(1) > 0).flatten()
    arrays, meta = {"head_rows": rows.cpu().numpy().astype(np.int32)}, {"missing_on_load": missing}
    for name in sorted(os.listdir(a.prompts)):
        ids_path = os.path.join(a.prompts, name, "ids.npy")
        if not os.path.exists(ids_path):
            continue
        ids = torch.from_numpy(np.load(ids_path).astype(np.int64))[None].to(device)
        with torch.no_grad():
            hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
            arrays[f"{name}/logits"] = (hidden[0] @ head[rows].T).cpu().numpy().astype(np.float32)
            if has_mtp:
                streams = model._streams.pop("last")
                h = model.mtp[0](streams[:, :-1], model.model.embed_tokens(ids[:, 1:]))
                arrays[f"{name}/mtp_logits"] = (h[0] @ head[rows].T).cpu().numpy().astype(np.float32)
        meta[name] = {"tokens": int(ids.shape[1])}
    meta["from_pretrained"] = attempt_from_pretrained(a.model, a.shape)
    import transformers
    meta.update(torch=torch.__version__, transformers=transformers.__version__, device=str(device),
                precision="float32, eager attention, TF32 off", shape=a.shape)
    os.makedirs(a.out, exist_ok=True)
    np.savez_compressed(os.path.join(a.out, "hf_logits.npz"), **arrays)
    with open(os.path.join(a.out, "hf_meta.json"), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    print(json.dumps(meta, default=str)[:2000])


if __name__ == "__main__":
    main()
