#!/usr/bin/env bash
# One link of a training run longer than one device call (a call is at most 10 minutes; the machine stays
# warm 30 s after it, and only files outside the repository copy survive to the next call):
#   bash reference/nano/device_chain.sh MINUTES_THIS_CALL TOTAL_MINUTES [DRILLS/SHARD [COPY WEIGHT [EVAL TASKS]]]
# The first call generates the data (device_data.sh) into /root/nano and trains from scratch; each later call on
# the same warm machine reuses the data and resumes from /root/nano/state.pt. Every call exports the
# checkpoint and scores it (device_run.sh), so the last call's $OUT is the model. MIX=packed: v3's data mix
# (gen_data.py --mix). EVAL TASKS 0: no pilot eval (the real eval is baleen's, on the dev machine).
set -euo pipefail
cd "$(dirname "$0")"
minutes="$1" total="$2" drills="${3:-1500}" copy="${4:-1}" tasks="${5:-24}" keep=/root/nano
mix="${MIX:-eval}"
gen="$keep/gen-$drills-$mix"
mkdir -p "$keep"
[ -s "$gen/prompts.jsonl.gz" ] || bash device_data.sh 4500 16 "$gen" "$drills" "$mix"
resume=()
if [ "${REQUIRE_STATE:-0}" = 1 ] && [ ! -s "$keep/state.pt" ] && [ -z "${INIT:-}" ]; then
  echo "no $keep/state.pt: this is a new machine, the chain is broken" >&2
  exit 3
fi
[ -s "$keep/state.pt" ] && resume=(--resume "$keep/state.pt") && echo "resuming from $keep/state.pt"
# INIT=TAR.XZ (of an exported checkpoint: fp8/...) INIT_ELAPSED=S INIT_STEP=N: the warm machine with the state
# was lost; continue from the last export's weights with a fresh optimizer.
if [ ${#resume[@]} = 0 ] && [ -n "${INIT:-}" ]; then
  mkdir -p "$keep/init" && xz -dc "$INIT" | tar xf - -C "$keep/init"
  resume=(--init-from "$keep/init/fp8" --init-elapsed "$INIT_ELAPSED" --init-step "$INIT_STEP")
  echo "continuing from the weights in $INIT"
fi
bash device_run.sh "$minutes" "$gen/prompts.jsonl.gz" fp8 fp8 "${resume[@]}" --save-state "$keep/state.next.pt" \
  --schedule-minutes "$total" --copy-weight "$copy" --ids-cache "$gen/ids.npz" --tokens-per-batch "${TPB:-auto}" --eval-limit "$tasks" --eval-seconds $((tasks * 3 / 2))
mv "$keep/state.next.pt" "$keep/state.pt"
