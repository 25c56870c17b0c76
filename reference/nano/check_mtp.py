#!/usr/bin/env python3
"""Checks mtp.py (the torch MTP block train.py trains) against the independent numpy forward
(reference/make_paper_logits.py Model.mtp_forward) on fresh random weights and inputs, in float64:

    python3 reference/nano/check_mtp.py            # any torch (Debian's python3-torch 1.13 does)

Also checks the training-side positions: the block's output at t, fed the streams at t and the embedding of token
t+1, is the numpy forward's logit row t (the token t+2 prediction).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]
import make_paper_logits as ref  # noqa: E402
import mtp  # noqa: E402
from spec import SHAPES  # noqa: E402


def main(seed=3, T=300, vocab=500):
    common = ref.fixture_specs()["COMMON"]
    spec = dict(SHAPES["w256"], vocab=vocab)
    torch.manual_seed(seed)
    block = mtp.MTPBlock(mtp.block_config(spec, common)).double()
    block.init_weights(torch.Generator().manual_seed(seed), std=0.08)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # every parameter off its init value, so a swapped or ignored one shows
        for name, p in block.named_parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * (0.3 if p.dim() < 2 else 0.02))
        block.ffn.gate.bias.copy_(torch.randn(spec["E"], generator=g) * 0.1)
    w = {f"mtp.0.{k}": v.detach().numpy() for k, v in block.state_dict().items()}
    rng = np.random.default_rng(seed)
    w["embed.weight"] = rng.standard_normal((vocab, spec["D"]))
    w["head.weight"] = rng.standard_normal((vocab, spec["D"])) * 0.1
    model = ref.Model(spec, w, common, False)
    ids = rng.integers(0, vocab, T)
    X = rng.standard_normal((T, common["hc_mult"], spec["D"]))
    want = model.mtp_forward(X, ids)  # [T-1, V]: token t+2 from X[t] and embed(ids[t+1])
    with torch.no_grad():
        h = block(torch.from_numpy(X[None, :-1]), torch.from_numpy(w["embed.weight"][ids[1:]][None]))
        got = (h[0] @ torch.from_numpy(w["head.weight"]).T).numpy()
    err = np.abs(got - want).max() / np.abs(want).max()
    top1 = (got.argmax(-1) == want.argmax(-1)).mean()
    load = block.ffn.load.tolist()
    print(f"torch mtp.py vs numpy mtp_forward: T {T}, window {spec['window']}, max rel err {err:.3g}, top-1 {top1:.4f}, "
          f"tokens per expert {load}")
    # float64 throughout except the RoPE tables, float32 angles and cos/sin as in transformers and the numpy
    # reference: their cos/sin differ by an ulp (~6e-8) between numpy and torch, hence not 1e-12
    if not (err < 1e-6 and top1 == 1.0):
        raise SystemExit("MISMATCH")
    print("ok")


if __name__ == "__main__":
    main()
