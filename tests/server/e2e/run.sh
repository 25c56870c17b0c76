#!/usr/bin/env bash
# Starts `baleen serve` on baleen-nano on a free port and runs one end-to-end client script against it:
#   run.sh BALEEN_BINARY SCRIPT [ARGS...]
# SCRIPT is a Node program (.cjs) given BALEEN_URL, or a shell script for the CLI clients. The clients come
# from npm (scripts/setup.sh installs tests/server/e2e/package-lock.json with npm ci into
# $BALEEN_CACHE/agent-clients); without them the test is skipped (exit 77).
set -euo pipefail
baleen="$1"
script="$2"
shift 2
clients="${BALEEN_CACHE:-$HOME/.cache/baleen}/agent-clients"
if [ ! -d "$clients/node_modules/@anthropic-ai/sdk" ] || ! command -v node >/dev/null; then
  echo "SKIP: the npm agent clients are not installed in $clients (run scripts/setup.sh)"
  exit 77
fi
export NODE_PATH="$clients/node_modules"
export PATH="$clients/node_modules/.bin:$PATH"
log=$(mktemp)
work=$(mktemp -d)
"$baleen" serve --port 0 --thinking -n 64 --max-context 4096 ${BALEEN_SERVE_ARGS:-} >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work" "$log"' EXIT
for _ in $(seq 1 300); do
  port=$(sed -n 's|.* on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$log")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "${port:-}" ] || { echo "baleen serve did not start"; cat "$log"; exit 1; }
export BALEEN_URL="http://127.0.0.1:$port"
export BALEEN_WORK="$work"
status=0
case "$script" in
  *.cjs) node "$script" "$@" || status=$? ;;
  *) bash "$script" "$@" || status=$? ;;
esac
# The server stops as on SIGTERM; a sanitizer report in its log (the ASan build CI runs) fails the test.
kill $server 2>/dev/null || true
wait $server 2>/dev/null || true
if grep -q -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
  echo "FAIL: baleen serve reported a sanitizer error"
  status=1
fi
if [ $status -ne 0 ]; then
  echo "--- baleen serve log"
  tail -n 40 "$log"
fi
exit $status
