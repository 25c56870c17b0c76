# Claude Code (npm @anthropic-ai/claude-code) headless against `baleen serve`, configured the way
# docs/SERVER.md tells users: ANTHROPIC_BASE_URL without /v1, a bearer token, its default-style claude-*
# model name. --bare and a short system prompt keep the prompt small enough for nano on a CPU.
set -euo pipefail
home="$BALEEN_WORK/home"
mkdir -p "$home"
out="$BALEEN_WORK/claude.json"
HOME="$home" ANTHROPIC_BASE_URL="$BALEEN_URL" ANTHROPIC_AUTH_TOKEN=local ANTHROPIC_API_KEY= \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_MAX_OUTPUT_TOKENS=64 \
  timeout 120 claude --bare -p "What is the capital of Sweden?" --output-format json \
  --model claude-sonnet-4-5 --max-turns 1 --tools "" \
  --system-prompt "You are baleen-nano, a helpful assistant." >"$out" || { cat "$out"; exit 1; }
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const ok = r.type === "result" && r.is_error === false && typeof r.result === "string" && r.result.length > 0 &&
           r.usage.output_tokens > 0;
console.log(ok ? "ok: claude -p completed: " + JSON.stringify(r.result) : "FAIL: " + JSON.stringify(r));
process.exit(ok ? 0 : 1);' "$out"
