"""DeepSeek-V4's multi-token-prediction block, in torch, for training (transformers' DeepseekV4 has none).

Written from the reference `inference/model.py` (`MTPBlock(Block)`): for position t, with H_t the main model's
hyper-connection streams after its last layer ([hc, D], before hc_head) and e = embed(token t+1):

    x_t   = e_proj(enorm(e)) + h_proj(hnorm(H_t))        # e_proj(.) broadcast over the hc streams, hnorm per stream
    X     = Block(x)                                      # one V4 block: mHC, sliding-window attention (no
                                                          # compressor), mHC, MoE with learned routing
    logit = head(norm(hc_head(X; mtp.hc_head_*)))         # the model's own head, the block's own norm and hc_head

which predicts token t+2. The attention runs over the MTP inputs x_0..x_t at positions 0..t (RoPE of the sliding
layers: rope_theta, no YaRN), window W. Parameters are named as in the official checkpoint under `mtp.0.`
(`e_proj.weight`, `attn.wq_a.weight`, `ffn.experts.3.w1.weight`, `hc_attn_fn`, ...), so export maps them 1:1.
reference/nano/mtp_reference.py is the independent numpy forward the fixtures come from.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def up(x):
    """At least float32 (a float64 check stays float64)."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def rms(x, eps, weight=None):
    y = up(x) * torch.rsqrt(up(x).pow(2).mean(-1, keepdim=True) + eps)
    return y if weight is None else y * up(weight)


class Norm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(dim)), eps

    def forward(self, x):
        return rms(x, self.eps, self.weight).to(x.dtype)


def rope(x, cos, sin):
    """Interleaved RoPE on the trailing 2*cos.shape[-1] dims; cos/sin [S, r/2] broadcast over x [B, S, ..., d]."""
    r = 2 * cos.shape[-1]
    shape = (1, cos.shape[0]) + (1,) * (x.dim() - 3) + (cos.shape[-1],)
    c, s = cos.view(shape), sin.view(shape)
    x0, x1 = up(x[..., -r::2]), up(x[..., -r + 1::2])
    rot = torch.stack([x0 * c - x1 * s, x1 * c + x0 * s], -1).flatten(-2).to(x.dtype)
    return torch.cat([x[..., :-r], rot], -1)


def rope_tables(r, theta, length, device):
    inv = 1.0 / (theta ** (torch.arange(0, r, 2, dtype=torch.float32, device=device) / r))
    ang = torch.arange(length, dtype=torch.float32, device=device)[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


class Attention(nn.Module):
    """V4 attention of a sliding-only layer: low-rank q, one shared K=V head, sink logits, grouped output."""

    def __init__(self, c):
        super().__init__()
        D, H, d, g = c["D"], c["H"], c["d"], c["o_groups"]
        self.H, self.d, self.g, self.o_lora, self.window, self.eps = H, d, g, c["o_lora"], c["window"], c["eps"]
        self.wq_a = nn.Linear(D, c["q_lora"], bias=False)
        self.q_norm = Norm(c["q_lora"], c["eps"])
        self.wq_b = nn.Linear(c["q_lora"], H * d, bias=False)
        self.wkv = nn.Linear(D, d, bias=False)
        self.kv_norm = Norm(d, c["eps"])
        self.wo_a = nn.Linear(H * d // g, g * c["o_lora"], bias=False)
        self.wo_b = nn.Linear(g * c["o_lora"], D, bias=False)
        self.attn_sink = nn.Parameter(torch.zeros(H))

    def forward(self, x, cos, sin):
        B, S, _ = x.shape
        q = self.wq_b(self.q_norm(self.wq_a(x))).view(B, S, self.H, self.d)
        q = rope(rms(q, self.eps).to(x.dtype), cos, sin)
        kv = rope(self.kv_norm(self.wkv(x)), cos, sin)
        logits = up(torch.einsum("bshd,btd->bhst", q, kv)) / math.sqrt(self.d)
        pos = torch.arange(S, device=x.device)
        keep = (pos[None, :] <= pos[:, None]) & (pos[None, :] > pos[:, None] - self.window)
        logits = logits.masked_fill(~keep, float("-inf"))
        sink = up(self.attn_sink).view(1, -1, 1, 1).expand(B, -1, S, 1)
        p = torch.softmax(torch.cat([logits, sink], -1), -1)[..., :-1].to(kv.dtype)
        o = rope(torch.einsum("bhst,btd->bshd", p, kv), cos, -sin)
        o = o.reshape(B, S, self.g, -1)
        z = torch.einsum("bsgi,goi->bsgo", o, self.wo_a.weight.view(self.g, self.o_lora, -1))
        return self.wo_b(z.flatten(2))


class Expert(nn.Module):
    def __init__(self, D, F_, limit):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(D, F_, bias=False), nn.Linear(F_, D, bias=False), nn.Linear(D, F_, bias=False)
        self.limit = limit

    def forward(self, x):
        return self.w2(F.silu(self.w1(x).clamp(max=self.limit)) * self.w3(x).clamp(-self.limit, self.limit))


class Gate(nn.Module):
    def __init__(self, D, E):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(E, D))
        self.register_buffer("bias", torch.zeros(E))  # V4's score correction: selects, never weights


class MoE(nn.Module):
    """Learned routing (sqrt-softplus scores; top-K of scores + bias; weights renormalised x scale) + shared expert."""

    def __init__(self, c):
        super().__init__()
        self.K, self.scale = c["K"], c["routed_scaling_factor"]
        self.gate = Gate(c["D"], c["E"])
        self.experts = nn.ModuleList(Expert(c["D"], c["F"], c["swiglu"]) for _ in range(c["E"]))
        self.shared_experts = Expert(c["D"], c["F"], c["swiglu"])
        self.load = torch.zeros(c["E"])  # routed tokens per expert since the last rebalance

    def forward(self, h):
        shape, flat = h.shape, h.reshape(-1, h.shape[-1])
        scores = torch.sqrt(F.softplus(F.linear(up(flat), up(self.gate.weight))))
        idx = torch.topk(scores + self.gate.bias, self.K, dim=-1).indices
        w = scores.gather(1, idx)
        w = w / (w.sum(-1, keepdim=True) + 1e-20) * self.scale
        out = up(self.shared_experts(flat))
        for e, expert in enumerate(self.experts):
            rows, slot = torch.where(idx == e)
            if len(rows):
                out = out.index_add(0, rows, up(expert(flat[rows])) * w[rows, slot, None])
        with torch.no_grad():
            self.load = self.load.to(idx.device) + torch.bincount(idx.flatten(), minlength=len(self.experts))
        return out.to(h.dtype).view(shape)

    def rebalance(self, speed):
        with torch.no_grad():
            self.gate.bias.add_(speed * torch.sign(self.load.mean() - self.load))
            self.load.zero_()


def hc_weights(X, fn, base, scale, n, eps, hc_eps, iters):
    """mHC: (pre, post, comb) from the streams X [B, S, n, D] (reference/NOTES.md section 5)."""
    f = F.linear(rms(X.flatten(2), eps), up(fn))
    pre = torch.sigmoid(f[..., :n] * scale[0] + base[:n]) + hc_eps
    post = 2 * torch.sigmoid(f[..., n:2 * n] * scale[1] + base[n:2 * n])
    comb = torch.softmax(f[..., 2 * n:].unflatten(-1, (n, n)) * scale[2] + base[2 * n:].view(n, n), -1) + hc_eps
    comb = comb / (comb.sum(-2, keepdim=True) + hc_eps)
    for _ in range(iters - 1):
        comb = comb / (comb.sum(-1, keepdim=True) + hc_eps)
        comb = comb / (comb.sum(-2, keepdim=True) + hc_eps)
    return pre, post, comb


class MTPBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, n = c["D"], c["hc_mult"]
        self.c, self.n = c, n
        self.e_proj, self.h_proj = nn.Linear(D, D, bias=False), nn.Linear(D, D, bias=False)
        self.enorm, self.hnorm, self.norm = Norm(D, c["eps"]), Norm(D, c["eps"]), Norm(D, c["eps"])
        self.attn_norm, self.ffn_norm = Norm(D, c["eps"]), Norm(D, c["eps"])
        self.attn, self.ffn = Attention(c), MoE(c)
        mix = (2 + n) * n
        for kind in ("attn", "ffn"):
            setattr(self, f"hc_{kind}_fn", nn.Parameter(torch.empty(mix, n * D)))
            setattr(self, f"hc_{kind}_base", nn.Parameter(torch.zeros(mix)))
            setattr(self, f"hc_{kind}_scale", nn.Parameter(torch.ones(3)))
        self.hc_head_fn = nn.Parameter(torch.empty(n, n * D))
        self.hc_head_base = nn.Parameter(torch.zeros(n))
        self.hc_head_scale = nn.Parameter(torch.ones(1))

    def init_weights(self, gen, std=0.02):
        """Random init as transformers' _init_weights does for a V4 layer (normal(0, std) matrices, unit norms,
        zero mHC bases and sinks, unit mHC scales)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=gen) * std)

    def sublayer(self, X, kind, cos, sin):
        c = self.c
        pre, post, comb = hc_weights(X, getattr(self, f"hc_{kind}_fn"), up(getattr(self, f"hc_{kind}_base")),
                                     up(getattr(self, f"hc_{kind}_scale")), self.n, c["eps"], c["hc_eps"],
                                     c["hc_sinkhorn_iters"])
        col = (pre.unsqueeze(-1) * up(X)).sum(2).to(X.dtype)
        h = getattr(self, f"{kind}_norm")(col)
        y = self.attn(h, cos, sin) if kind == "attn" else self.ffn(h)
        return (post.unsqueeze(-1) * up(y).unsqueeze(-2) + torch.matmul(comb.transpose(-1, -2), up(X))).to(X.dtype)

    def forward(self, streams, next_embeds):
        """streams [B, S, n, D]: the main model's last-layer streams at positions 0..S-1; next_embeds [B, S, D]: the
        embeddings of tokens 1..S. Returns [B, S, D], the vectors the shared head turns into the logits of tokens
        2..S+1."""
        c = self.c
        cos, sin = rope_tables(c["r"], c["rope_theta"], streams.shape[1], streams.device)
        x = self.e_proj(self.enorm(next_embeds)).unsqueeze(2) + self.h_proj(self.hnorm(streams))
        X = self.sublayer(x, "attn", cos, sin)
        X = self.sublayer(X, "ffn", cos, sin)
        return self.final(X)

    def final(self, X):
        """hc_head (pre weights only) then the block's own norm: the vector the shared head reads."""
        c = self.c
        f = F.linear(rms(X.flatten(2), c["eps"]), up(self.hc_head_fn))
        pre = torch.sigmoid(f * up(self.hc_head_scale) + up(self.hc_head_base)) + c["hc_eps"]
        return self.norm((pre.unsqueeze(-1) * up(X)).sum(2).to(X.dtype))


def block_config(spec, common):
    """The MTP block's sizes from spec.py's shape and make_fixtures' COMMON."""
    return dict(D=spec["D"], H=spec["H"], d=spec["d"], r=spec["r"], q_lora=spec["q_lora"], o_groups=spec["o_groups"],
                o_lora=spec["o_lora"], window=spec["window"], E=spec["E"], K=spec["K"], F=spec["F"],
                swiglu=spec["swiglu"], hc_mult=common["hc_mult"], hc_eps=common["hc_eps"],
                hc_sinkhorn_iters=common["hc_sinkhorn_iters"], eps=common["rms_norm_eps"],
                rope_theta=common["rope_theta"], routed_scaling_factor=common["routed_scaling_factor"])
