"""Trains baleen-nano: a small DeepseekV4ForCausalLM (transformers 5.17) with every V4 mechanism on.

  python3 reference/nano/train.py --data .cache/nano/train.npz --minutes 6 --out $OUT/run
  (pilot only) python3 reference/nano/train.py --prompts prompts.jsonl.gz --hf-tokenizer tokenizer.json ...

Data: token ids of rendered conversations (prepare.py packs them; the final model must use ids made by
`baleen render` + `baleen tokenize`). Loss only on assistant tokens: everything after `<｜Assistant｜>` + `<think>`
or `</think>` up to and including the next EOS. Embedding and head rows of token ids that never occur in the data
start at zero and get no gradient, so they stay zero and the checkpoint compresses. Learned-MoE layers balance
their load the V4 way (no aux loss: the router bias moves against each expert's load after every step).
The MTP block (mtp.py: V4's, from the reference inference/model.py; transformers has none) is trained with the model
(`--mtp-weight`, the weight of its loss: the cross-entropy of token t+2 from the main model's last-layer streams at
t and the embedding of token t+1); it reads the main model's streams, so its loss trains the main model too.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import mtp as mtp_block  # noqa: E402
import prepare  # noqa: E402
from spec import SHAPES  # noqa: E402

def build_model(cfg, used_ids, seed):
    from transformers import DeepseekV4ForCausalLM
    torch.manual_seed(seed)
    model = DeepseekV4ForCausalLM(cfg)
    g = torch.Generator().manual_seed(seed)
    row_mask = torch.zeros(cfg.vocab_size, 1)
    row_mask[torch.as_tensor(sorted(used_ids))] = 1.0
    with torch.no_grad():
        for layer in model.model.layers:
            gate = layer.mlp.gate
            if hasattr(gate, "tid2eid"):  # hash layers: a fixed random table of distinct experts per token
                perm = torch.rand(cfg.vocab_size, cfg.n_routed_experts, generator=g).argsort(dim=1)
                gate.tid2eid.copy_(perm[:, :cfg.num_experts_per_tok])
        unused = row_mask[:, 0] == 0
        model.model.embed_tokens.weight[unused] = 0.0  # assign, not multiply: x * 0 is -0 for x < 0, and -0
        model.lm_head.weight[unused] = 0.0             # rows are not zero bytes (the file would not compress)
    return model, row_mask


def keep_rows_zero(model, row_mask):
    for w in (model.model.embed_tokens.weight, model.lm_head.weight):
        m = row_mask.to(w.device)
        w.register_hook(lambda grad, m=m: grad * m.to(grad.dtype))


def batches(lengths, tokens_per_batch, max_len, rng):
    order = sorted((i for i, n in enumerate(lengths) if n <= max_len), key=lambda i: lengths[i])
    out, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * lengths[i] > tokens_per_batch:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def collate(seqs, masks, idx, device):
    n = max(len(seqs[i]) for i in idx)
    ids = np.full((len(idx), n), 1, dtype=np.int64)  # pad with EOS after the end: causal, so never attended
    lab = np.zeros((len(idx), n), dtype=np.float32)  # loss weight per token (0: no loss)
    for r, i in enumerate(idx):
        ids[r, :len(seqs[i])] = seqs[i]
        lab[r, :len(seqs[i])] = masks[i]
    return torch.from_numpy(ids).to(device), torch.from_numpy(lab).to(device)


def add_mtp(model, shape, seed):
    """Attaches a randomly initialised MTP block as model.mtp[0] (state-dict names mtp.0.*, the official ones) and
    a hook that keeps the last decoder layer's output streams for it."""
    block = mtp_block.MTPBlock(mtp_block.block_config(SHAPES[shape], export.mf.COMMON))
    block.init_weights(torch.Generator().manual_seed(seed + 7))
    model.mtp = torch.nn.ModuleList([block])
    model._streams = {}
    model.model.layers[-1].register_forward_hook(  # returns None: a returned value would replace the output
        lambda m, i, o: model._streams.__setitem__("last", o[0] if isinstance(o, tuple) else o))
    return block


def ce_at(logits_fn, hidden, ids, lab, weighted):
    """Cross-entropy of ids where lab > 0, from the hidden vectors one position per label before them."""
    sel = lab > 0
    logits = logits_fn(hidden[sel]).float()
    ce = F.cross_entropy(logits, ids[sel], reduction="none")
    w = lab[sel] if weighted else torch.ones_like(ce)
    return (ce * w).sum() / w.sum(), int(sel.sum()), (logits.argmax(-1) == ids[sel]).float().sum()


def assistant_loss(model, ids, lab, weighted=True, parts=None):
    """Main loss (+ mtp weight x the MTP block's loss, when the model has one). parts: a dict that gets the two
    losses, their token counts and top-1 hits."""
    hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
    loss, n, hits = ce_at(model.lm_head, hidden[:, :-1], ids[:, 1:], lab[:, 1:], weighted)  # label t+1 from t
    if parts is not None:
        parts.update(main=float(loss.detach()), main_n=n, main_hits=float(hits))
    if not hasattr(model, "mtp") or ids.shape[1] < 3:
        return loss, n
    streams = model._streams.pop("last")
    h = model.mtp[0](streams[:, :-2], model.model.embed_tokens(ids[:, 1:-1]))  # t = 0..S-3, token t+1 in
    m_loss, m_n, m_hits = ce_at(model.lm_head, h, ids[:, 2:], lab[:, 2:], weighted)  # predicts token t+2
    if parts is not None:
        parts.update(mtp=float(m_loss.detach()), mtp_n=m_n, mtp_hits=float(m_hits))
    return loss + model.mtp_weight * m_loss, n


def count_experts(counts):
    def hook(module, inputs, output):  # must return None: a returned value would replace the router's output
        counts[module].add_(torch.bincount(output[2].flatten(), minlength=module.num_experts))
    return hook


def router_counters(model):
    counts = {}  # (the MTP block's MoE counts its own load: mtp.MoE.rebalance)
    for layer in model.model.layers:
        gate = layer.mlp.gate
        if hasattr(gate, "e_score_correction_bias"):
            counts[gate] = torch.zeros(gate.num_experts, device=gate.weight.device)
            gate.register_forward_hook(count_experts(counts))
    return counts


def rebalance(counts, speed, model=None):
    with torch.no_grad():
        for gate, c in counts.items():
            gate.e_score_correction_bias.add_(speed * torch.sign(c.mean() - c))
            c.zero_()
    for block in getattr(model, "mtp", []):
        block.ffn.rebalance(speed)


def throughput(model, counts, seqs, masks, lengths, tokens_per_batch, max_len, rng, steps=6):
    """Tokens per second of forward + backward at one batch size (no optimizer step: the weights stay)."""
    device = next(model.parameters()).device
    plan = batches(lengths, tokens_per_batch, max_len, rng)[:steps + 2]
    seen, start = 0, None
    for n, idx in enumerate(plan):
        if n == 2:  # the first steps pay for allocator growth and kernel selection
            torch.cuda.synchronize()
            start, seen = time.time(), 0
        ids, lab = collate(seqs, masks, idx, device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss, _ = assistant_loss(model, ids, lab)
        loss.backward()
        model.zero_grad(set_to_none=True)
        seen += ids.numel()
    torch.cuda.synchronize()
    for c in counts.values():
        c.zero_()
    return seen / (time.time() - start)


def pick_batch(model, counts, seqs, masks, lengths, args, rng, log):
    """The largest batch whose throughput beats the next smaller one by 40%: a doubled batch that is not
    much faster costs half the optimizer steps for little more data."""
    rates = {}
    for tpb in (32768, 65536, 131072):
        try:
            rates[tpb] = throughput(model, counts, seqs, masks, lengths, tpb, args.max_len, rng)
        except torch.cuda.OutOfMemoryError:
            model.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            break
    best = 32768
    for tpb in sorted(rates)[1:]:
        if rates[tpb] >= 1.4 * rates[tpb // 2] and best == tpb // 2:
            best = tpb
    log["batch_probe"] = {str(k): round(v) for k, v in rates.items()}
    print(json.dumps({"batch_probe": log["batch_probe"], "chosen": best}), flush=True)
    return best


def lr_at(frac, peak, warm=0.03):
    return peak * frac / warm if frac < warm else peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (frac - warm) / (1 - warm))))


@torch.no_grad()
def held_out(model, seqs, masks, idx, device):
    """Unweighted assistant-token loss of the main model on held-out sequences, and of the MTP block (with its
    top-1 accuracy on token t+2: how often a draft would be accepted under greedy decoding, teacher-forced)."""
    tot = {"main": 0.0, "main_n": 0, "main_hits": 0.0, "mtp": 0.0, "mtp_n": 0, "mtp_hits": 0.0}
    for i in idx:
        ids, lab = collate(seqs, masks, [i], device)
        parts = {}
        with torch.autocast("cuda", dtype=torch.bfloat16):
            assistant_loss(model, ids, lab, weighted=False, parts=parts)
        for k in ("main", "mtp"):
            if k in parts:
                tot[k] += parts[k] * parts[k + "_n"]
                tot[k + "_n"] += parts[k + "_n"]
                tot[k + "_hits"] += parts[k + "_hits"]
    out = {"loss": round(tot["main"] / max(tot["main_n"], 1), 4)}
    if tot["mtp_n"]:
        out.update(mtp_loss=round(tot["mtp"] / tot["mtp_n"], 4), mtp_top1=round(tot["mtp_hits"] / tot["mtp_n"], 4),
                   main_top1=round(tot["main_hits"] / max(tot["main_n"], 1), 4))
    return out


def train_loop(model, opt, counts, seqs, masks, lengths, args, log, rng, resumed):
    """Trains for args.minutes; the lr follows one cosine over --schedule-minutes across resumed calls."""
    device = next(model.parameters()).device
    budget, schedule = args.minutes * 60, (args.schedule_minutes or args.minutes) * 60
    offset, step = (resumed["elapsed_s"], resumed["step"]) if resumed else (0.0, 0)
    rewarm, first = (resumed or {}).get("rewarm", 0), step
    start, seen, epoch = time.time(), 0, 0
    model.train()
    while time.time() - start < budget:
        for idx in batches(lengths, args.tokens_per_batch, args.max_len, rng):
            if time.time() - start >= budget:
                break
            frac = min((offset + time.time() - start) / schedule, 1.0)
            for g in opt.param_groups:  # a fresh optimizer (--init-from) starts its moments at zero: re-warm
                g["lr"] = lr_at(frac, args.lr) * (min(1.0, (step - first + 1) / rewarm) if rewarm else 1.0)
            ids, lab = collate(seqs, masks, idx, device)
            opt.zero_grad(set_to_none=True)
            parts = {}
            try:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss, _ = assistant_loss(model, ids, lab, parts=parts)
                loss.backward()
            except torch.cuda.OutOfMemoryError:
                loss = None
            if loss is None:  # re-batch smaller; the outer loop starts a new pass over the data
                opt.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                args.tokens_per_batch //= 2
                print(f"OOM at {ids.shape}: tokens per batch now {args.tokens_per_batch}", flush=True)
                log.setdefault("oom", []).append(list(ids.shape))
                break
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            rebalance(counts, 1e-3, model)
            step, seen = step + 1, seen + ids.numel()
            if step % 25 == 0 or len(log["curve"]) == 0:
                el = time.time() - start
                row = {"step": step, "epoch": epoch, "loss": round(parts["main"], 4),
                       **({"mtp_loss": round(parts["mtp"], 4)} if "mtp" in parts else {}), "gnorm": round(float(gnorm), 3),
                       "lr": round(lr_at(frac, args.lr), 6), "tok_per_s": round(seen / el), "elapsed_s": round(el, 1)}
                log["curve"].append(row)
                print(json.dumps(row), flush=True)
        epoch += 1
    return step, seen, epoch, time.time() - start


def pilot_eval_run(model, tok, args):
    import eval as nano_eval
    import pilot_eval
    try:
        t = time.time()
        tasks = pilot_eval.load_tasks(args.eval_tasks, args.eval_limit)
        report = nano_eval.run_tasks(pilot_eval.PilotTorch(model, tok), tasks, deadline=t + args.eval_seconds)
        report["eval_s"] = round(time.time() - t, 1)
        return report
    except Exception:  # noqa: BLE001 -- the checkpoint matters more than the pilot's numbers
        import traceback
        return {"error": traceback.format_exc()[-3000:]}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="npz from prepare.py (ids made by baleen)")
    ap.add_argument("--prompts", help="PILOT ONLY: jsonl(.gz) of {prompt} tokenized here with --hf-tokenizer")
    ap.add_argument("--hf-tokenizer")
    ap.add_argument("--ids-cache", help="with --prompts: ids.npz to reuse if present, else written there")
    ap.add_argument("--minutes", type=float, default=5.0, help="training time of this call")
    ap.add_argument("--schedule-minutes", type=float, help="length of the whole lr schedule (default: --minutes)")
    ap.add_argument("--resume", help="state saved by --save-state in an earlier call")
    ap.add_argument("--save-state", help="write model + optimizer state here after training")
    ap.add_argument("--init-from", help="instead of --resume: weights of an exported checkpoint directory, a fresh "
                    "optimizer (lr re-warmed over --rewarm-steps), the schedule continued from --init-elapsed")
    ap.add_argument("--init-elapsed", type=float, default=0.0, help="training seconds the --init-from run had")
    ap.add_argument("--init-step", type=int, default=0)
    ap.add_argument("--rewarm-steps", type=int, default=60)
    ap.add_argument("--tokens-per-batch", default="32768", help="a number, or 'auto' (measured: pick_batch)")
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak lr at 32768 tokens per batch (sqrt-scaled)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="nano", help="spec.py's model shape")
    ap.add_argument("--copy-weight", type=float, default=1.0,
                    help="loss weight of assistant tokens that copy a rare token from earlier in the conversation")
    ap.add_argument("--copy-reach", type=int,
                    help="only copies from at most this many tokens back (v3 and v4: 128); default any distance")
    ap.add_argument("--mtp-weight", type=float, default=0.3,
                    help="weight of the MTP block's loss (0: no MTP block; DeepSeek-V3 used 0.3, then 0.1)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval-tasks", help="PILOT ONLY: run eval tasks with transformers right after training")
    ap.add_argument("--eval-limit", type=int, default=48)
    ap.add_argument("--eval-seconds", type=float, default=150)
    ap.add_argument("--eval-variants", default="bf16,fp8", help="which exported variants the pilot eval scores")
    return ap.parse_args()


def load_data(args, hf_tok, t0):
    if args.data:
        seqs, special = prepare.load(args.data)
    elif args.ids_cache and os.path.exists(args.ids_cache):  # a later call of a chain: tokenized already
        seqs, special = prepare.load(args.ids_cache)
    else:  # kept beside the checkpoint, for prepare.py --check against baleen's own ids
        seqs, special = prepare.tokenize_with_hf(args.prompts, hf_tok)
        prepare.pack(seqs, special, args.ids_cache or os.path.join(args.out, "ids.npz"))
    masks = [prepare.assistant_mask(s, special) for s in seqs]
    if args.copy_weight != 1.0:  # masks become loss weights
        common = prepare.common_tokens(seqs, masks)
        masks = [prepare.copy_weights(s, m, common, args.copy_weight, args.copy_reach) for s, m in zip(seqs, masks)]
    used = set(np.unique(np.concatenate(seqs)).tolist())
    log = {"sequences": len(seqs), "tokens": int(sum(map(len, seqs))), "loss_tokens": int(sum((m > 0).sum() for m in masks)),
           "copy_tokens": int(sum((m > 1).sum() for m in masks)),
           "used_token_ids": len(used), "prep_s": round(time.time() - t0, 1), "special": special, "curve": []}
    print(json.dumps({k: v for k, v in log.items() if k != "curve"}), flush=True)
    return seqs, masks, used, log


def decays(name, p):
    """Weight decay on the matrices, except mHC's and the embedding / head: a row of a rare token (each of the
    1,000 three-digit numbers) gets a gradient now and then but decay every step, and v2's rare rows shrank."""
    return p.dim() >= 2 and "hc" not in name and name not in ("model.embed_tokens.weight", "lm_head.weight")


def make_optimizer(model, lr):
    decay = [p for n, p in model.named_parameters() if decays(n, p)]
    rest = [p for n, p in model.named_parameters() if not decays(n, p)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def load_exported(model, ckpt_dir):
    """Weights of a checkpoint that export.py wrote (any variant), decoded from its stored bytes: the way to
    continue a run whose optimizer state is gone (the machine holding it was released between calls)."""
    mf = export.mf
    raw = {}
    for fn in sorted(os.listdir(ckpt_dir)):
        if fn.endswith(".safetensors"):
            raw.update(mf.read_safetensors_raw(os.path.join(ckpt_dir, fn)))
    od = {k: torch.from_numpy(np.ascontiguousarray(mf.np_decode_stored(raw, k))) for k in raw
          if not k.endswith(".scale")}
    sd = mf.official_to_hf(od, model.config.num_hidden_layers, model.config.n_routed_experts)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    main_missing = [m for m in missing if not m.startswith("mtp.")]  # a checkpoint without MTP: random init
    if unexpected or any("weight" in m for m in main_missing):
        raise SystemExit(f"{ckpt_dir} does not fit the model: missing {missing}, unexpected {unexpected}")
    return missing


def init_new_rows(model, row_mask, seed):
    """Token ids the loaded checkpoint never saw have zero embedding rows; a zero row makes every RMSNorm its
    token's streams pass through divide by sqrt(eps) in the backward pass (v6's first run: gradient norms up to
    4e7 on 40% of the logged steps, clipped). They start as random rows of the trained rows' scale instead (the
    head rows may stay zero: a zero head row has an ordinary gradient)."""
    with torch.no_grad():
        w = model.model.embed_tokens.weight
        new = (row_mask[:, 0].to(w.device) > 0) & (w.abs().sum(1) == 0)
        old = (row_mask[:, 0].to(w.device) > 0) & ~new
        g = torch.Generator().manual_seed(seed + 11)
        std = float(w[old].std()) if old.any() else 0.02
        w[new] = (torch.randn(int(new.sum()), w.shape[1], generator=g) * std).to(w.device, w.dtype)
    return int(new.sum())


def save_state(path, model, opt, rng, step, elapsed_s, args):
    try:  # never lose the run's checkpoint export over this
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.getstate(), "step": step,
                    "elapsed_s": elapsed_s, "tokens_per_batch": args.tokens_per_batch, "lr": args.lr}, path)
    except (OSError, RuntimeError) as e:
        print(f"could not save training state to {path}: {e}", flush=True)


def export_and_score(model, row_mask, seqs, masks, held, hf_tok, args, log):
    """Writes both variants and scores each (held-out loss, optional pilot eval) from its stored values."""
    device = next(model.parameters()).device
    model = model.cpu().float()
    with torch.no_grad():  # canonical +0 in the unused rows, whatever the optimizer's sign of zero
        for w in (model.model.embed_tokens.weight, model.lm_head.weight):
            w[row_mask[:, 0] == 0] = 0.0
    log["variants"] = {}
    shape = dict(SHAPES[args.shape], mtp=len(getattr(model, "mtp", [])))
    for name, (deq, meta) in export.write_variants(model, args.out, shape).items():
        missing, unexpected = model.load_state_dict(deq, strict=False)
        model = model.to(device)
        scores = held_out(model, seqs, masks, held, device)
        row = {"export": meta, "missing": missing, "unexpected": unexpected, "held_out_loss": scores["loss"],
               "held_out": scores}
        if args.eval_tasks and args.eval_limit > 0 and hf_tok is not None and name in args.eval_variants.split(","):
            row["pilot_eval"] = pilot_eval_run(model, hf_tok, args)
        log["variants"][name] = row
        print(json.dumps({"variant": name, **scores,
                          **{k: v for k, v in row.get("pilot_eval", {}).items() if k != "failures"}}), flush=True)
        model = model.cpu()


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    hf_tok = prepare.pilot_tokenizer(args.hf_tokenizer) if args.hf_tokenizer else None
    seqs, masks, used, log = load_data(args, hf_tok, t0)
    device = "cuda"
    cfg = export.nano_config(SHAPES[args.shape])
    torch.backends.cuda.matmul.allow_tf32 = True  # make_fixtures turns it off for exact fixtures
    model, row_mask = build_model(cfg, used, args.seed)
    if args.mtp_weight > 0:
        add_mtp(model, args.shape, args.seed)
        model.mtp_weight = args.mtp_weight
    model = model.to(device)
    keep_rows_zero(model, row_mask)
    n_all = sum(p.numel() for p in model.parameters())
    n_emb = model.model.embed_tokens.weight.numel() + model.lm_head.weight.numel()
    log.update(shape=args.shape, params_total=n_all, params_non_embedding=n_all - n_emb, config=cfg.to_dict())
    print(f"params: total {n_all / 1e6:.1f}M, non-embedding {(n_all - n_emb) / 1e6:.1f}M", flush=True)
    counts = router_counters(model)
    opt = make_optimizer(model, args.lr)
    log["params_decayed"] = sum(p.numel() for p in opt.param_groups[0]["params"])
    print(f"weight decay on {log['params_decayed'] / 1e6:.1f}M parameters", flush=True)
    rng = random.Random(args.seed)
    held = rng.sample(range(len(seqs)), min(64, len(seqs) // 50))
    train_idx = set(range(len(seqs))) - set(held)
    lengths = [len(s) if i in train_idx else 10 ** 9 for i, s in enumerate(seqs)]
    resumed = torch.load(args.resume, map_location=device, weights_only=False) if args.resume else None
    if resumed:  # the router bias (a buffer) is in the model state; the used-token mask follows from the data
        model.load_state_dict(resumed["model"])
        opt.load_state_dict(resumed["opt"])
        rng.setstate(resumed["rng"])
        args.tokens_per_batch, args.lr = resumed["tokens_per_batch"], resumed["lr"]
    elif args.init_from:
        log["init_from_missing"] = load_exported(model, args.init_from)
        log["embed_rows_initialised"] = init_new_rows(model, row_mask, args.seed)
        resumed = {"elapsed_s": args.init_elapsed, "step": args.init_step, "rewarm": args.rewarm_steps}
        args.tokens_per_batch = int(args.tokens_per_batch)
    else:
        args.tokens_per_batch = (pick_batch(model, counts, seqs, masks, lengths, args, rng, log)
                                 if args.tokens_per_batch == "auto" else int(args.tokens_per_batch))
        args.lr = min(args.lr * math.sqrt(args.tokens_per_batch / 32768), 3e-3)
    log.update(tokens_per_batch=args.tokens_per_batch, peak_lr=args.lr)
    step, seen, epoch, train_s = train_loop(model, opt, counts, seqs, masks, lengths, args, log, rng, resumed)
    if args.save_state:  # for a next call on the same warm machine (ignored paths are kept between calls)
        save_state(args.save_state, model, opt, rng, step, (resumed or {}).get("elapsed_s", 0.0) + train_s, args)
    model.eval()
    import transformers
    scores = held_out(model, seqs, masks, held, device)
    log.update(steps=step, epochs_started=epoch, train_s=round(train_s, 1), tokens_seen=seen,
               held_out_loss=scores["loss"], held_out=scores, mtp_weight=args.mtp_weight,
               device=torch.cuda.get_device_name(0), torch=torch.__version__, transformers=transformers.__version__)
    print(json.dumps({k: log[k] for k in ("steps", "train_s", "tokens_seen", "held_out")}), flush=True)
    with torch.no_grad():  # the zero rows are part of the model; check they held
        log["zero_rows_embed"] = int((model.model.embed_tokens.weight.abs().sum(1) == 0).sum())
        log["zero_rows_head"] = int((model.lm_head.weight.abs().sum(1) == 0).sum())
    export_and_score(model, row_mask, seqs, masks, held, hf_tok, args, log)
    log["total_s"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1, default=str)
    print(f"done in {log['total_s']} s; zero rows embed {log['zero_rows_embed']} head {log['zero_rows_head']}")


if __name__ == "__main__":
    main()
