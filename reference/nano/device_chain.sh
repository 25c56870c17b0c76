#!/usr/bin/env bash
# One link of a training run longer than one device call (a call is at most 10 minutes; the machine stays
# warm 30 s after it, and only files outside the repository copy survive to the next call):
#   bash reference/nano/device_chain.sh MINUTES_THIS_CALL TOTAL_MINUTES
# The first call generates the data (device_data.sh) into /root/nano and trains from scratch; each later call on
# the same warm machine reuses the data and resumes from /root/nano/state.pt. Every call exports the
# checkpoint and scores it (device_run.sh), so the last call's $OUT is the model.
set -euo pipefail
cd "$(dirname "$0")"
minutes="$1" total="$2" keep=/root/nano
mkdir -p "$keep"
[ -s "$keep/gen/prompts.jsonl.gz" ] || bash device_data.sh 4500 16 "$keep/gen" 1500
resume=()
[ -s "$keep/state.pt" ] && resume=(--resume "$keep/state.pt") && echo "resuming from $keep/state.pt"
bash device_run.sh "$minutes" "$keep/gen/prompts.jsonl.gz" fp8 fp8 "${resume[@]}" --save-state "$keep/state.next.pt" \
  --schedule-minutes "$total" --eval-limit 24 --eval-seconds 35
mv "$keep/state.next.pt" "$keep/state.pt"
