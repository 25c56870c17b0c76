#!/usr/bin/env bash
# Generates training conversations on the GPU machine's 16 cores (the 2-core dev machine needs ~1.5 h for
# 72k), in SHARDS seeded shards of COUNT each, and renders them with pilot_render.py for train.py --prompts:
#   bash reference/nano/device_data.sh COUNT SHARDS DIR [DRILLS PER SHARD [MIX [SEED BASE]]]
# (FAR_DRILLS=N per shard: drills that copy from beyond the window, gen_data.py --far-drills)
# writes DIR/train.jsonl (conversations) and DIR/prompts.jsonl.gz. The ids train.py makes from them
# (ids.npz, in its --out) are checked against `baleen render` + `baleen tokenize` on the dev machine
# (prepare.py --check), so the model is trained on exactly the ids baleen produces.
set -euo pipefail
cd "$(dirname "$0")"
count="$1" shards="$2" dir="$3" drills="${4:-0}" mix="${5:-eval}" base="${6:-20260600}"
mkdir -p "$dir"
export TMPDIR=/dev/shm
for s in $(seq 1 "$shards"); do
  python3 gen_data.py --split train --count "$count" --seed $((base + s)) --drills "$drills" \
    --mix "$mix" --far-drills "${FAR_DRILLS:-0}" --out "$dir/train_$s.jsonl" 2>/dev/null &
done
wait
for s in $(seq 1 "$shards"); do cat "$dir/train_$s.jsonl"; done > "$dir/train.jsonl"
rm -f "$dir"/train_*.jsonl
python3 pilot_render.py < "$dir/train.jsonl" | gzip -1 > "$dir/prompts.jsonl.gz"
echo "$(wc -l < "$dir/train.jsonl") conversations in $dir"
