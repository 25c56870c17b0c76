#!/usr/bin/env bash
# Pilot training run on the GPU machine (tool `run`, carry .cache/pilot and .cache/tokenizer.json):
# trains for MINUTES, scores both exported variants on held-out tasks with the pilot backend, and leaves
# the checkpoint as xz parts of <= 15 MB (+ train_log.json, train.out) in $OUT.
set -euo pipefail
cd "$(dirname "$0")"
minutes="${1:-4}"
python3 train.py --data ../../.cache/pilot/train.npz --hf-tokenizer ../../.cache/tokenizer.json \
  --minutes "$minutes" --eval-tasks ../../.cache/pilot/eval_tasks.jsonl --eval-limit 48 --eval-seconds 75 \
  --out /tmp/nano-run > /tmp/nano-train.out 2>&1 || true
grep -v -i warning /tmp/nano-train.out | tail -n 45
cp /tmp/nano-train.out "$OUT/train.out"
cp /tmp/nano-run/train_log.json "$OUT/" 2>/dev/null || exit 0
(cd /tmp/nano-run && tar cf - bf16 fp8 | xz -T16 -6 > /tmp/nano-ckpt.tar.xz)
split -b 15M -d /tmp/nano-ckpt.tar.xz "$OUT/ckpt.tar.xz.part"
ls -la "$OUT"
