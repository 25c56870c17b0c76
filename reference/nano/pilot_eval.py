"""TEMPORARY pilot-only eval backend: transformers greedy decoding on the GPU, with the pilot renderer, the HF
tokenizer and the pilot parser standing in for baleen's CLIs (which did not exist yet). Same scoring as eval.py.
Batched greedy decoding without a KV cache (sequences right-padded; causal, so padding never leaks).
"""
import json

import torch

import pilot_parse
import pilot_render


class PilotTorch:
    def __init__(self, model, tokenizer, max_new=200, batch=64):
        self.model, self.tok, self.max_new, self.batch = model, tokenizer, max_new, batch
        self.eos = tokenizer.token_to_id("<｜end▁of▁sentence｜>")

    @torch.no_grad()
    def _greedy(self, prompts):
        dev = next(self.model.parameters()).device
        lens = torch.tensor([len(p) for p in prompts], device=dev)
        buf = torch.full((len(prompts), int(lens.max()) + self.max_new), self.eos, dtype=torch.long, device=dev)
        for i, p in enumerate(prompts):
            buf[i, :len(p)] = torch.tensor(p, device=dev)
        start, active = lens.clone(), torch.ones(len(prompts), dtype=torch.bool, device=dev)
        rows = torch.arange(len(prompts), device=dev)
        for _ in range(self.max_new):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                hidden = self.model.model(input_ids=buf[:, :int(lens.max())], use_cache=False).last_hidden_state
                nxt = self.model.lm_head(hidden[rows, lens - 1]).float().argmax(-1)
            buf[rows[active], lens[active]] = nxt[active]
            lens[active] += 1
            active &= nxt != self.eos
            if not bool(active.any()):
                break
        return [buf[i, start[i]:lens[i]].tolist() for i in range(len(prompts))]

    def complete(self, convs):
        ids = [e.ids for e in self.tok.encode_batch([pilot_render.render(c) for c in convs], add_special_tokens=False)]
        outs = []
        for b in range(0, len(ids), self.batch):
            outs += self._greedy(ids[b:b + self.batch])
        res = []
        for o, c in zip(outs, convs):
            text = self.tok.decode(o, skip_special_tokens=False)
            p = pilot_parse.parse(text, c["thinking"])
            p["raw"] = text
            res.append(p)
        return res


def load_tasks(path, limit):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f][:limit]
