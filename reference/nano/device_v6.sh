#!/usr/bin/env bash
# v6's GPU call (tool `run`, carry .devcarry/nano: this reference/ tree, data/train_v6.npz made on the dev machine by
# prepare.py, data/nano_parity/NAME/ids.npy): continues the shipped model (../../models/baleen-nano, v5) on the v6
# data with the MTP block added, exports it, and records transformers' logits on the export:
#   cd .devcarry/nano && MINUTES=6.5 bash reference/nano/device_v6.sh
# $OUT: train.out, train_log.json, hf_logits.npz, hf_meta.json, ckpt.tar.xz.partNN (the fp8 export).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1 TMPDIR=/dev/shm
init=/root/nano/init-v5/fp8
mkdir -p "$init"
for f in ../../models/baleen-nano/*.safetensors.gz; do gzip -dc "$f" > "$init/$(basename "${f%.gz}")"; done
python3 reference/nano/train.py --data data/train_v6.npz --minutes "${MINUTES:-6.5}" \
  --schedule-minutes "${SCHEDULE:-${MINUTES:-6.5}}" --init-from "$init" --shape w256 --lr "${LR:-1e-3}" \
  --copy-weight 3 --tokens-per-batch "${TPB:-32768}" --mtp-weight "${MTP_WEIGHT:-0.3}" \
  --save-state /root/nano/v6.state.pt --out /tmp/v6 > /tmp/v6.out 2>&1
echo "train.py exit $?"
grep -v -i warning /tmp/v6.out | tail -n 30
cp /tmp/v6.out "$OUT/train.out"; cp /tmp/v6/train_log.json "$OUT/" 2>/dev/null
(cd /tmp/v6 && tar cf - fp8 | xz -T8 -6 > /tmp/v6-ckpt.tar.xz) && split -b 15M -d /tmp/v6-ckpt.tar.xz "$OUT/ckpt.tar.xz.part"
timeout 150 python3 reference/nano/hf_logits.py --model /tmp/v6/fp8 --prompts data/nano_parity --out "$OUT" 2>&1 | grep -v -i warning | tail -n 5
ls -la "$OUT"
