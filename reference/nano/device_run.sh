#!/usr/bin/env bash
# One training run on the GPU machine (tool `run`; carry .cache/pilot and .cache/tokenizer.json):
#   bash reference/nano/device_run.sh MINUTES DATA.npz "VARIANTS TO RETURN" "VARIANTS TO SCORE" [TRAIN.PY ARGS...]
# trains for MINUTES on DATA (ids from prepare.py), scores the exported variants on 48 held-out tasks with the
# transformers pilot backend, and leaves the chosen variants as xz parts of <= 15 MB (+ train_log.json,
# train.out) in $OUT. RUN=NAME keeps runs that share the machine apart: /tmp/NAME-*, $OUT/NAME/.
set -euo pipefail
cd "$(dirname "$0")"
minutes="${1:-4}"
data="${2:-../../.cache/pilot/train.npz}"
keep="${3:-bf16 fp8}"
score="${4:-bf16,fp8}"
shift $(($# < 4 ? $# : 4))
run="${RUN:-nano}" out="$OUT"
[ -n "${RUN:-}" ] && out="$OUT/$RUN" && mkdir -p "$out"
source=(--data "$data")
[[ "$data" == *.jsonl.gz ]] && source=(--prompts "$data")  # rendered by device_data.sh
python3 train.py "${source[@]}" --hf-tokenizer ../../.cache/tokenizer.json --minutes "$minutes" \
  --eval-tasks ../../.cache/pilot/eval_tasks.jsonl --eval-limit 48 --eval-seconds 75 --eval-variants "$score" \
  "$@" --out "/tmp/$run-run" > "/tmp/$run-train.out" 2>&1 || true
grep -v -i warning "/tmp/$run-train.out" | tail -n 45 | sed "s/^/[$run] /"
cp "/tmp/$run-train.out" "$out/train.out"
cp "/tmp/$run-run/train_log.json" "$out/" 2>/dev/null || exit 0
cp "/tmp/$run-run/ids.npz" "$out/" 2>/dev/null || true
(cd "/tmp/$run-run" && tar cf - $keep | xz -T8 -6 > "/tmp/$run-ckpt.tar.xz")
split -b 15M -d "/tmp/$run-ckpt.tar.xz" "$out/ckpt.tar.xz.part"
ls -la "$out"
